"""What colour dots do: read by the network, or filling their region (the default).

  .venv/bin/python docs/dots_study.py            # the bundled default model

Writes docs/dots_fill.png: one row per drawing, columns sketch with its dots | reference |
`--dots model` (the network reads the dots) | `--dots fill` (the default: the network
colours from the reference, then each dot colours its closed region, shading kept) |
ground truth, each 256x256. Rows: characters of the held-out style (toon-head, never
trained on) with the other drawing of the same character and 10 dots; two of them from
30 dots and no reference; the palette starter's held-out drawings from their own colours
and 10 dots. Dots are placed as `jaxcolor evaluate`'s region rows place them (a disc
inside a closed region, of the region's ground-truth colour), at places fixed by the
row's index; drawings are picked evenly over each split, not by result.
"""

import argparse
import os
import pathlib

import numpy as np

from jaxcolor import demo
from jaxcolor import hints
from jaxcolor import infer
from jaxcolor.data import pipeline
from reference_study import TILE, character_rows, drawing_rows, grid

DOCS = pathlib.Path(__file__).resolve().parent
COLUMNS = ("sketch + dots", "reference", "--dots model", "--dots fill (default)",
           "ground truth")


def tiles(fill, model, row, index, count, with_reference):
  sketch, reference, truth = row
  rgba = hints.points_rgba(pipeline.eval_points(truth, count, index, sketch, "regions"))
  ref = dict(reference=reference) if with_reference else {}
  out = [demo._points_view(sketch, rgba),  # pylint: disable=protected-access
         reference if with_reference else np.asarray(hints.no_reference(TILE))]
  for colorizer in (model, fill):
    out.append(np.asarray(colorizer(sketch, points=rgba, **ref)))
  return out + [truth]


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  data_dir = os.environ.get("JAXCOLOR_DATA_DIR", os.path.expanduser("~/jaxcolor_datasets"))
  parser.add_argument("--out", default=str(DOCS / "dots_fill.png"))
  args = parser.parse_args()
  fill = infer.Colorizer.from_checkpoint()
  model = infer.Colorizer(fill.config, fill.params, dots="model")
  style = character_rows(data_dir, "style", 6)
  plan = ([(r, 10, True) for r in style[:4]] + [(r, 30, False) for r in style[4:]] +
          [(r, 10, True) for r in drawing_rows(os.path.join(data_dir, "starter_src", "val"), 2)])
  sheet = grid(COLUMNS, [tiles(fill, model, row, i, count, with_reference)
                        for i, (row, count, with_reference) in enumerate(plan)])
  sheet.save(args.out, optimize=True)
  print(f"wrote {args.out}")


if __name__ == "__main__":
  main()
