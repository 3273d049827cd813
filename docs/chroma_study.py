"""A middle way between the plain result and flats, measured (README, "Flats and layers").

  .venv/bin/python docs/chroma_study.py drawings --num 120   # the palette starter's held-out drawings
  .venv/bin/python docs/chroma_study.py style --num 120      # characters of the held-out style

In each closed region, pixels whose chroma (CIELAB a*, b*) lies near the region's median
take the median's chroma (fully within T/2, fading out by T), their lightness kept: the
model's shading stays, its mottled hues would go, and a pixel far from the median (another
part running into an open region) keeps its own colour. Printed: mean PSNR, SSIM (and part
accuracy for characters) of the plain result, the flats and this at T = 10, 20, 40, over
drawings picked evenly from the split, each whole at 256 px (the drawings coloured from
their own colours, the characters from the other drawing of the same character). Not
adopted: the gains were too small (README).
"""

import argparse
import json
import os
import pathlib

import numpy as np
from PIL import Image

from jaxcolor import color
from jaxcolor import infer
from jaxcolor import metrics
from jaxcolor.data import builders
from jaxcolor.data import pipeline
from jaxcolor.paint import flats
from jaxcolor.paint import regions as regions_lib

REACHES = (10, 20, 40)


def pull_chroma(rgb, regions, reach):
  """uint8 result with each region's near-median chroma set to the median, L kept."""
  rgb = np.asarray(rgb, np.uint8)
  if not regions.usable:
    return rgb
  off = ~regions.ink
  lab = color.rgb_to_lab(rgb[off].astype(np.float64))
  ids = regions.labels[off]
  med = flats.median_lab(regions.labels, regions.count, flats.to_lab(rgb), where=off)
  far = np.hypot(lab[:, 1] - med[ids, 1], lab[:, 2] - med[ids, 2])
  weight = np.clip(2.0 - 2.0 * far / reach, 0.0, 1.0)
  lab[:, 1:] += weight[:, None] * (med[ids, 1:] - lab[:, 1:])
  out = rgb.copy()
  out[off] = flats.lab_to_uint8(lab)
  return out


def scores(colorizer, sketch, hint, target, parts=None):
  plain = np.asarray(colorizer.colorize_sketch(sketch, hint)[0])
  regions = regions_lib.segment(sketch)
  flat, _ = infer.flatten_results(sketch, [Image.fromarray(plain)], regions=regions)
  outs = {"plain": plain, "flat": np.asarray(flat[0])}
  outs.update({f"pulled_{t}": pull_chroma(plain, regions, t) for t in REACHES})
  t = color.to_float(target)[None]
  row = {}
  for name, img in outs.items():
    x = color.to_float(img)[None]
    row[name] = [float(metrics.psnr(x, t)[0]), float(metrics.ssim(x, t)[0])]
    if parts is not None:
      row[name].append(float(metrics.part_accuracy(x, t, parts[None])[0]))
  return row


def evenly(n, total):
  return np.unique(np.linspace(0, total - 1, n).round().astype(int))


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("split", choices=("drawings", "style", "val"))
  parser.add_argument("--num", type=int, default=120)
  parser.add_argument("--model", default=None, help="a bundled model (palette, reference)")
  args = parser.parse_args()
  data_dir = os.environ.get("JAXCOLOR_DATA_DIR", os.path.expanduser("~/jaxcolor_datasets"))
  colorizer = infer.Colorizer.from_checkpoint(model=args.model)
  rows = []
  if args.split == "drawings":
    files = sorted(pathlib.Path(data_dir, "starter_src", "val").glob("*.png"))
    for i in evenly(args.num, len(files)):
      pair = np.asarray(Image.open(files[i]).convert("RGB"))
      side = pair.shape[0]
      target, sketch = pair[:, :side], infer.load_sketch(pair[:, side:])
      rows.append(scores(colorizer, sketch, colorizer.hint_colors(reference=target), target))
  else:
    source = builders.load_split("dicebear_characters", args.split, data_dir)
    groups = pipeline.partner_groups(source, args.split)
    for i in evenly(args.num, len(source)):
      ex = source[int(i)]
      partner = pipeline.same_character_partner(groups, int(i))
      reference = source[partner]["image"] if partner is not None else ex["image"]
      rows.append(scores(colorizer, ex["sketch"][..., 0], colorizer.hint_colors(
          reference=reference), ex["image"], ex["parts"][..., 0]))
  means = {k: np.round(np.mean([r[k] for r in rows], axis=0), 4).tolist() for k in rows[0]}
  wins = {k: int(sum(r[k][0] > r["plain"][0] for r in rows)) for k in rows[0] if k != "plain"}
  print(json.dumps({"split": args.split, "drawings": len(rows), "model": colorizer.source,
                    "means (psnr, ssim[, part accuracy])": means,
                    "psnr above plain (drawings)": wins}, indent=1))


if __name__ == "__main__":
  main()
