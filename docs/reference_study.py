"""The side-by-side of issue 22: palette starter vs the reference family, held-out only.

  .venv/bin/python docs/reference_study.py                        # both bundled models
  .venv/bin/python docs/reference_study.py --reference runs/reference_starter
  .venv/bin/python docs/reference_study.py --against runs/a:2750 --reference runs/b:2750 \
      --labels "without triplet loss" "with triplet loss" --out docs/triplet_loss.png

Writes docs/reference_vs_palette.png: one row per drawing, columns sketch | reference |
palette starter | reference family | ground truth, each whole at 256x256. The rows are
characters of the held-out style (toon-head, never trained on) coloured from the other
drawing of the same character, held-out characters of the trained styles (split `val`),
and the palette starter's held-out drawings (OpenMoji, Open Clip Art) coloured from
their own colours, as `jaxcolor evaluate`'s self row does. Picks are evenly spaced over
each split, not chosen by result.
"""

import argparse
import os
import pathlib

import numpy as np
from PIL import Image, ImageDraw

from jaxcolor import infer
from jaxcolor.data import builders
from jaxcolor.data import pipeline

DOCS = pathlib.Path(__file__).resolve().parent
TILE = 256
COLUMNS = ("sketch", "reference", "palette starter", "reference family", "ground truth")


def character_rows(data_dir, split, count):
  source = builders.load_split("dicebear_characters", split, data_dir)
  groups = pipeline.partner_groups(source, split)
  rows = []
  for i in np.linspace(0, len(source) - 1, count).round().astype(int):
    ex = source[int(i)]
    partner = pipeline.same_character_partner(groups, int(i))
    reference = source[partner]["image"] if partner is not None else ex["image"]
    rows.append((ex["sketch"][..., 0], reference, ex["image"]))
  return rows


def drawing_rows(folder, count):
  files = sorted(pathlib.Path(folder).glob("*.png"))
  rows = []
  for k in np.linspace(0, len(files) - 1, count).round().astype(int):
    pair = np.asarray(Image.open(files[k]).convert("RGB"))
    r = pair.shape[0]
    rows.append((infer.load_sketch(pair[:, r:]), pair[:, :r], pair[:, :r]))
  return rows


def colour(colorizer, sketch, reference):
  return np.asarray(colorizer.colorize_sketch(sketch, colorizer.hint_colors(reference=reference))[0])


def grid(columns, rows):
  """A labelled sheet: one row of TILE x TILE tiles (uint8 arrays) per entry of `rows`."""
  head = 20
  out = Image.new("RGB", (len(columns) * (TILE + 4), head + len(rows) * (TILE + 4)), "white")
  draw = ImageDraw.Draw(out)
  for j, name in enumerate(columns):
    draw.text((j * (TILE + 4) + 4, 4), name, fill=(0, 0, 0))
  for i, tiles in enumerate(rows):
    for j, tile in enumerate(tiles):
      img = Image.fromarray(np.asarray(tile, np.uint8)).convert("RGB").resize((TILE, TILE))
      out.paste(img, (j * (TILE + 4), head + i * (TILE + 4)))
  return out


def sheet(rows, palette, reference, columns=COLUMNS):
  return grid(columns, [[np.repeat(sketch[..., None], 3, -1), ref, colour(palette, sketch, ref),
                         colour(reference, sketch, ref), truth] for sketch, ref, truth in rows])


def load(run, bundled):
  """A Colorizer from a training workdir, optionally WORKDIR:STEP; None = the bundled model."""
  if run is None:
    return infer.Colorizer.from_checkpoint(model=bundled)
  path, _, step = run.partition(":")
  return infer.Colorizer.from_checkpoint(path, step=int(step) if step else None)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  data_dir = os.environ.get("JAXCOLOR_DATA_DIR", os.path.expanduser("~/jaxcolor_datasets"))
  parser.add_argument("--reference", default=None,
                      help="a training workdir of the reference family, optionally "
                      "WORKDIR:STEP (default: bundled)")
  parser.add_argument("--against", default=None,
                      help="the third column's run instead of the bundled palette starter")
  parser.add_argument("--labels", nargs=2, default=COLUMNS[2:4],
                      help="the two models' column titles")
  parser.add_argument("--out", default=str(DOCS / "reference_vs_palette.png"))
  args = parser.parse_args()
  palette = load(args.against, "palette")
  reference = load(args.reference, "reference")
  rows = (character_rows(data_dir, "style", 4) + character_rows(data_dir, "val", 2) +
          drawing_rows(os.path.join(data_dir, "starter_src", "val"), 3))
  columns = COLUMNS[:2] + tuple(args.labels) + COLUMNS[4:]
  sheet(rows, palette, reference, columns).save(args.out, optimize=True)
  print(f"wrote {args.out}")


if __name__ == "__main__":
  main()
