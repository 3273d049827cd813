"""Figures for README's "Flats and layers": clean outputs before/after, flats on held-out drawings.

  .venv/bin/python docs/paint_study.py figure      # docs/clean_outputs.png, docs/flats_layers.png
  .venv/bin/python docs/paint_study.py heldout     # SSIM of flats on the starter's held-out split
  .venv/bin/python docs/paint_study.py characters  # regions vs part maps, part accuracy of flats

`heldout` reads the 360 held-out pairs that `jaxcolor data starter` renders into
$JAXCOLOR_DATA_DIR/starter_src/val (colour left, sketch right, 256x256 each) and colours each
with its own colours (the self reference of `jaxcolor evaluate`) at 256x256, the whole
drawing. "before" is the bare forward pass (what results were before the clean-up);
"plain" a result as `colorize` writes it now; "flat" the `--flat` result (the plain one
where a drawing has no usable regions).

`characters` reads the held-out characters of `jaxcolor data characters` (split `style` by
default: a style never trained on). Regions: a part boundary is a pixel whose part differs
from its right or lower neighbour's, once every ink pixel is given the part nearest to it;
it is found when a region edge (the same, on the regions' labels) lies within 2 px. Part
accuracy (`metrics.part_accuracy`): each drawing coloured whole at 256x256 from the other
drawing of the same character (evaluation's same_character row), plain vs `--flat`.
"""

import argparse
import json
import os
import pathlib
import sys
import time

import numpy as np
from PIL import Image, ImageDraw

from scipy import ndimage

from jaxcolor import color
from jaxcolor import demo
from jaxcolor import infer
from jaxcolor import metrics
from jaxcolor.paint import flats as flats_lib
from jaxcolor.paint import regions as regions_lib

DOCS = pathlib.Path(__file__).resolve().parent


def before(colorizer, sketch, colors):
  """The bare forward pass at the sketch's size: no margin, no paper clean-up."""
  x = color.to_float(sketch)[None, ..., None]
  return color.to_uint8(colorizer.colorize_batch(x, color.to_float(colors)[None])[0])


def label(img, text):
  out = Image.new("RGB", (img.width, img.height + 18), "white")
  out.paste(img, (0, 18))
  ImageDraw.Draw(out).text((4, 3), text, fill=(0, 0, 0))
  return out


def corner(rgb, side=32, zoom=4):
  """The top-right side x side pixels, enlarged (nearest) with a grey frame."""
  crop = Image.fromarray(rgb[:side, -side:]).resize((side * zoom, side * zoom),
                                                     Image.Resampling.NEAREST)
  ImageDraw.Draw(crop).rectangle((0, 0, crop.width - 1, crop.height - 1), outline=(150,) * 3)
  return crop


def figure(colorizer):
  rows, layer_row = [], None
  for i, (_, sketch_path, ref_path) in enumerate(demo.bundled_pairs()):
    sketch = infer.load_sketch(sketch_path)
    colors = colorizer.hint_colors(reference=ref_path)
    old = before(colorizer, sketch, colors)
    new = np.asarray(colorizer.colorize_sketch(sketch, colors)[0])
    flat, _ = infer.flatten_results(sketch, [Image.fromarray(new)])
    tiles = [("sketch", Image.fromarray(sketch).convert("RGB")),
             ("before", Image.fromarray(old)), ("after", Image.fromarray(new)),
             ("--flat", flat[0]), ("corner before", corner(old)), ("corner after", corner(new))]
    row = Image.new("RGB", (sum(t.width for _, t in tiles) + 8 * len(tiles), 256 + 18), "white")
    x = 0
    for name, tile in tiles:
      row.paste(label(tile, name if i == 0 else ""), (x, 0))
      x += tile.width + 8
    rows.append(row)
    if i == 1:
      regions = regions_lib.segment(sketch)
      lay = infer.paint_layers(sketch, regions, new)
      pictures = [("line art (multiply)", Image.fromarray(lay.line_art).convert("RGB")),
                  ("shading (multiply, off)", Image.fromarray(lay.shading)),
                  ("flats", _on_checks(lay.flats)), ("paper", Image.fromarray(lay.paper)),
                  ("composite", Image.fromarray(lay.composite))]
      layer_row = Image.new("RGB", (5 * 264, 256 + 18), "white")
      for k, (name, tile) in enumerate(pictures):
        ImageDraw.Draw(tile).rectangle((0, 0, tile.width - 1, tile.height - 1),
                                       outline=(190,) * 3)
        layer_row.paste(label(tile, name), (k * 264, 0))
  sheet = Image.new("RGB", (rows[0].width, sum(r.height for r in rows)), "white")
  for k, row in enumerate(rows):
    sheet.paste(row, (0, k * row.height))
  sheet.save(DOCS / "clean_outputs.png", optimize=True)
  layer_row.save(DOCS / "flats_layers.png", optimize=True)
  print(f"wrote {DOCS / 'clean_outputs.png'} and {DOCS / 'flats_layers.png'}")


def _on_checks(rgba):
  """An RGBA layer over a grey checkerboard, as paint programs show transparency."""
  h, w = rgba.shape[:2]
  yy, xx = np.mgrid[:h, :w]
  checks = np.where(((yy // 8) + (xx // 8)) % 2 == 0, 235, 205).astype(np.uint8)
  base = Image.fromarray(np.repeat(checks[..., None], 3, -1)).convert("RGBA")
  return Image.alpha_composite(base, Image.fromarray(rgba, "RGBA")).convert("RGB")


def heldout(colorizer, folder, limit=None):
  files = sorted(pathlib.Path(folder).glob("*.png"))[:limit]
  if not files:
    sys.exit(f"no held-out pairs in {folder}: run `jaxcolor data starter` first")
  scores = {k: [] for k in ("sketch", "before", "plain", "flat")}
  psnr = {k: [] for k in scores}
  usable, seconds = 0, []
  for path in files:
    pair = np.asarray(Image.open(path).convert("RGB"))
    r = pair.shape[0]
    target, sketch = pair[:, :r], infer.load_sketch(pair[:, r:])
    colors = colorizer.hint_colors(reference=target)
    outs = {"sketch": np.repeat(sketch[..., None], 3, -1),
            "before": before(colorizer, sketch, colors)}
    plain = colorizer.colorize_sketch(sketch, colors)[0]
    outs["plain"] = np.asarray(plain)
    start = time.perf_counter()
    flat, problem = infer.flatten_results(sketch, [plain])
    seconds.append(time.perf_counter() - start)
    usable += problem is None
    outs["flat"] = np.asarray(flat[0])
    t = color.to_float(target)[None]
    for k, v in outs.items():
      scores[k].append(float(metrics.ssim(color.to_float(v)[None], t)[0]))
      psnr[k].append(float(metrics.psnr(color.to_float(v)[None], t)[0]))
  report = {"drawings": len(files), "with_usable_regions": usable,
            "ssim": {k: float(np.mean(v)) for k, v in scores.items()},
            "psnr_db": {k: float(np.mean(v)) for k, v in psnr.items()},
            "flat_over_plain_ssim_wins": int(np.sum(np.array(scores["flat"]) >
                                                    np.array(scores["plain"]))),
            "flats_seconds_median": float(np.median(seconds))}
  print(json.dumps(report, indent=1))
  return report


def edges(labels):
  """bool (H, W): pixels whose label differs from the right or lower neighbour's (either side)."""
  e = np.zeros(labels.shape, bool)
  dx = labels[:, 1:] != labels[:, :-1]
  dy = labels[1:, :] != labels[:-1, :]
  e[:, 1:] |= dx
  e[:, :-1] |= dx
  e[1:, :] |= dy
  e[:-1, :] |= dy
  return e


def part_boundaries(parts, ink_id=1):
  """The part map's boundaries, ink pixels given the nearest part's id first."""
  parts = np.asarray(parts)
  ink = parts == ink_id
  if ink.all():
    return np.zeros(parts.shape, bool)
  _, (iy, ix) = ndimage.distance_transform_edt(ink, return_indices=True)
  return edges(parts[iy, ix])


def boundary_recall(parts, regions, within=2.0):
  """(found, total) part-boundary pixels with a region edge within `within` px."""
  truth = part_boundaries(parts)
  found = edges(regions.labels)
  if not found.any():
    return 0, int(truth.sum())
  near = ndimage.distance_transform_edt(~found) <= within
  return int((truth & near).sum()), int(truth.sum())


def characters(colorizer, data_dir, split, limit):
  from jaxcolor.data import builders  # pylint: disable=g-import-not-at-top
  from jaxcolor.data import pipeline  # pylint: disable=g-import-not-at-top
  source = builders.load_split("dicebear_characters", split, data_dir)
  groups = pipeline.partner_groups(source, split)
  n = len(source) if limit is None else min(limit, len(source))
  # Evaluation's fixed subset: evenly spaced over the split, so every style is in it.
  picks = np.unique(np.linspace(0, len(source) - 1, n).round().astype(int))
  found = total = 0
  recalls, acc = [], {"plain": [], "flat": []}
  ssim = {"sketch": [], "plain": [], "flat": []}
  for i in picks:
    ex = source[int(i)]
    sketch, parts = ex["sketch"][..., 0], ex["parts"][..., 0]
    regions = regions_lib.segment(sketch)
    f, t = boundary_recall(parts, regions)
    found, total = found + f, total + t
    recalls.append(f / max(t, 1))
    if colorizer is None:
      continue
    partner = pipeline.same_character_partner(groups, int(i))
    reference = source[partner]["image"] if partner is not None else ex["image"]
    plain = colorizer.colorize_sketch(sketch, colorizer.hint_colors(reference=reference))[0]
    flat, _ = infer.flatten_results(sketch, [plain], regions=regions)
    target = color.to_float(ex["image"])[None]
    for k, img in (("plain", plain), ("flat", flat[0])):
      score = metrics.part_accuracy(color.to_float(np.asarray(img))[None], target, parts[None])
      acc[k].append(float(score[0]))
    for k, img in (("sketch", np.repeat(sketch[..., None], 3, -1)), ("plain", plain),
                   ("flat", flat[0])):
      ssim[k].append(float(metrics.ssim(color.to_float(np.asarray(img))[None], target)[0]))
  report = {"split": split, "drawings": int(len(picks)),
            "boundary_recall_within_2px": found / max(total, 1),
            "boundary_recall_median_per_drawing": float(np.median(recalls))}
  if colorizer is not None:
    report["model"] = colorizer.source
    report["part_accuracy"] = {k: float(np.nanmean(v)) for k, v in acc.items()}
    report["ssim"] = {k: float(np.mean(v)) for k, v in ssim.items()}
  print(json.dumps(report, indent=1))
  return report


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("what", choices=("figure", "heldout", "characters"))
  data_dir = os.environ.get("JAXCOLOR_DATA_DIR", os.path.expanduser("~/jaxcolor_datasets"))
  parser.add_argument("--folder", default=os.path.join(data_dir, "starter_src", "val"))
  parser.add_argument("--limit", type=int, default=None)
  parser.add_argument("--json", default=None, help="write the held-out figures here")
  parser.add_argument("--split", default="style", help="characters: the split to read")
  parser.add_argument("--model", default=None, help="a bundled model (palette, reference)")
  parser.add_argument("--checkpoint", default=None, help="a training workdir instead")
  parser.add_argument("--regions-only", action="store_true",
                      help="characters: boundary recall only, no model")
  args = parser.parse_args()
  if args.what == "characters":
    colorizer = None if args.regions_only else infer.Colorizer.from_checkpoint(
        args.checkpoint, model=args.model)
    report = characters(colorizer, data_dir, args.split, args.limit)
    if args.json:
      pathlib.Path(args.json).write_text(json.dumps(report, indent=1))
    return
  colorizer = infer.Colorizer.from_checkpoint(model=args.model)
  if args.what == "figure":
    figure(colorizer)
  else:
    report = heldout(colorizer, args.folder, args.limit)
    if args.json:
      pathlib.Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
  main()
