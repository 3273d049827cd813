"""At what size should a large sketch be coloured? Held-out drawings drawn large.

The bundled models trained on 128 px crops of 256 px drawings, while users bring
sketches of 512-2048 px. This renders held-out DiceBear characters at the sizes asked
(exact line art, or XDoG where a style has none), colours each from another drawing of
the same character at several working sizes, and scores the results at the drawing's
own size (at most 512 px) against its colour render: PSNR, SSIM and part accuracy.
`--split drawings` does the same with the palette starter's held-out drawings (SVGs
rendered at each size, coloured from their own colours; no part maps).

  .venv/bin/python docs/size_study.py --split val --num 48 --sides 256,512 \
      --works own,128,160,192,256 --json runs/size_val.json
"""

import argparse
import json
import os
import pathlib
import time

import numpy as np
from PIL import Image

from jaxcolor import color
from jaxcolor import infer
from jaxcolor import metrics
from jaxcolor import sketch as sketch_lib
from jaxcolor.data import characters

# Scores are taken at most this size (SSIM at 1024 px costs seconds per picture); the
# result, its target and parts are shrunk alike, the parts by nearest neighbour.
SCORE_SIDE = 512


def heldout_characters(split, num):
  """The first `num` character indices of `split`, in the dataset's order."""
  characters.require()
  picks, i = [], 0
  while len(picks) < num:
    if characters.split_of(characters.character_id(*characters.character(i))) == split:
      picks.append(i)
    i += 1
  return picks


def drawing_pair(index, side, seed=0, sketch="lineart"):
  """(sketch uint8 (S, S), reference, target, parts) of one character at `side` px.

  sketch: "lineart", the exact line art where the style has it (else a filter's), or
  "filter", always the filter-made sketch of the colour drawing (`sketch.sketch_from_color`).
  """
  first, other = characters.character_drawings(index, 1, 2, seed=seed, size=side)[:2]
  line = first["lineart"]
  if line is None or sketch == "filter":
    line = sketch_lib.sketch_from_color(first["image"], np.random.default_rng([seed, index]))
  return line, other["image"], first["image"], first["parts"]


def heldout_drawings(num, cache):
  """`num` of the palette starter's held-out drawings (OpenMoji, Open Clip Art), evenly
  spaced over its `val` split, as (name, kind, svg) for `starter_data.make_pair`."""
  from jaxcolor.data import starter_data  # pylint: disable=g-import-not-at-top
  items = starter_data.list_drawings(starter_data.fetch_sources(pathlib.Path(cache)))
  val = [item for item in items if starter_data.split_of(item[0]) == "val"]
  return [val[int(i)] for i in np.unique(np.linspace(0, len(val) - 1, num).round())]


def drawing_of(item, side):
  """(sketch, reference = its own colours, target, parts = None) or None if skipped."""
  from jaxcolor.data import starter_data  # pylint: disable=g-import-not-at-top
  _, pair, _ = starter_data.make_pair(*item, side)
  if pair is None:
    return None
  return pair[:, side:, 0], pair[:, :side], pair[:, :side], None


def enlarged(colorizer, sketch, hint, side):
  """The way before `paint.upscale`: colour a copy shrunk to `side`, enlarge the result."""
  h, w = sketch.shape
  small = np.asarray(Image.fromarray(sketch).resize(infer.working_size(h, w, side)[::-1],
                                                     Image.Resampling.LANCZOS))
  result = colorizer.colorize_sketch(small, hint, size=side)[0]
  return result.resize((w, h), Image.Resampling.LANCZOS)


def scores(result, target, parts):
  result = Image.fromarray(np.asarray(result))
  if max(result.size) > SCORE_SIDE:
    side = (SCORE_SIDE, SCORE_SIDE)
    result = result.resize(side, Image.Resampling.BOX)
    target = np.asarray(Image.fromarray(target).resize(side, Image.Resampling.BOX))
    if parts is not None:
      parts = np.asarray(Image.fromarray(parts).resize(side, Image.Resampling.NEAREST))
  out = color.to_float(np.asarray(result))[None]
  tgt = color.to_float(target)[None]
  parts = (float("nan") if parts is None
           else float(metrics.part_accuracy(out, tgt, parts[None])[0]))
  return {"psnr": float(metrics.psnr(out, tgt)[0]), "ssim": float(metrics.ssim(out, tgt)[0]),
          "part_accuracy": parts}


def figure(colorizer, picks, side, out, split, sketch_kind, shown=256):
  """Rows of sketch | reference | at its own size | enlarged from 192 | default | truth,
  each drawn at `side` and shown at `shown` px, with a quarter of each picture (the
  second quarter down and across) enlarged below its row: lines and colour edges."""
  rows = []
  for pick in picks:
    drawn = (drawing_of(pick, side) if split == "drawings"
             else drawing_pair(pick, side, sketch=sketch_kind))
    if drawn is None:
      continue
    sketch, reference, target, _ = drawn
    hint = colorizer.hint_colors(reference=reference)
    own = colorizer.colorize_sketch(sketch, hint, size=side)[0]
    small = enlarged(colorizer, sketch, hint, colorizer.work_side or 192)
    default = colorizer.colorize_sketch(sketch, hint)[0]
    tiles = [Image.fromarray(sketch).convert("RGB"), Image.fromarray(reference), own, small,
             default, Image.fromarray(target)]
    rows.append(np.concatenate([np.asarray(t.resize((shown, shown), Image.Resampling.BOX))
                                for t in tiles], 1))
    quarter = side // 4
    zoom = [np.asarray(t.crop((quarter, quarter, 2 * quarter, 2 * quarter)).resize(
        (shown, shown), Image.Resampling.NEAREST)) for t in tiles]
    zoom[1] = np.full_like(zoom[1], 255)  # the reference is another drawing: no zoom
    rows.append(np.concatenate(zoom, 1))
  Image.fromarray(np.concatenate(rows, 0)).save(out)


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--split", default="val", choices=("val", "style", "drawings"),
                      help="held-out characters (val: of the trained styles, style: of "
                           "toon-head) or the palette starter's held-out drawings, each "
                           "coloured from its own colours")
  parser.add_argument("--cache", default=os.path.expanduser(
      "~/jaxcolor_datasets/starter_src/cache"), help="drawings: the sources' download cache")
  parser.add_argument("--num", type=int, default=48)
  parser.add_argument("--sides", default="256,512")
  parser.add_argument("--works", default="own,128,160,192,256",
                      help="working long sides; 'own' colours at the drawing's size, "
                           "'default' as Colorizer does without --size, 'N+enlarge' at N "
                           "and the result enlarged (the way before paint.upscale)")
  parser.add_argument("--sketch", default="lineart", choices=("lineart", "filter"))
  parser.add_argument("--paper", type=int, default=255,
                      help="the sketch's paper level: below 255 the whole sketch is scaled "
                           "by PAPER/255, as a scan on grey paper or a tool's off-white")
  parser.add_argument("--reference-side", type=int, default=0,
                      help="reference family: the long side references are seen at "
                           "(default: the model's config)")
  parser.add_argument("--model", default="reference")
  parser.add_argument("--json", default=None)
  parser.add_argument("--figure", default=None,
                      help="instead of scoring, draw the first --num picks at the largest "
                           "side into this PNG")
  args = parser.parse_args()
  colorizer = infer.Colorizer.from_checkpoint(model=args.model)
  if args.reference_side:
    colorizer.config.model.reference_side = args.reference_side
  sides = [int(s) for s in args.sides.split(",")]
  works = args.works.split(",")
  rows = {f"{s}@{w}": [] for s in sides for w in works}
  seconds = {k: 0.0 for k in rows}
  picks = (heldout_drawings(args.num, args.cache) if args.split == "drawings"
           else heldout_characters(args.split, args.num))
  if args.figure:
    figure(colorizer, picks, max(sides), args.figure, args.split, args.sketch)
    return
  for n, pick in enumerate(picks):
    for side in sides:
      drawn = (drawing_of(pick, side) if args.split == "drawings"
               else drawing_pair(pick, side, sketch=args.sketch))
      if drawn is None:
        continue
      sketch, reference, target, parts = drawn
      if args.paper < 255:
        sketch = np.rint(sketch.astype(np.float32) * (args.paper / 255.0)).astype(np.uint8)
      sketch = infer.load_sketch(sketch)  # as a user's file is read
      hint = colorizer.hint_colors(reference=reference)
      for w in works:
        t0 = time.perf_counter()
        if w.endswith("+enlarge"):
          result = enlarged(colorizer, sketch, hint, int(w.split("+")[0]))
        else:
          size = None if w == "default" else side if w == "own" else int(w)
          result = colorizer.colorize_sketch(sketch, hint, size=size)[0]
        seconds[f"{side}@{w}"] += time.perf_counter() - t0
        rows[f"{side}@{w}"].append(scores(result, target, parts))
    print(n + 1, {k: round(float(np.nanmean([r["part_accuracy"] for r in v])), 3)
                  for k, v in rows.items()}, flush=True)
  report = {"split": args.split, "model": args.model, "asked": args.num,
            "scored": {k: len(v) for k, v in rows.items()},
            "sketch": args.sketch, "paper": args.paper, "work_side": colorizer.work_side,
            "reference_side": colorizer.reference_side if args.model != "palette" else None,
            "rows": {
      k: {m: float(np.nanmean([r[m] for r in v])) for m in ("psnr", "ssim", "part_accuracy")}
      | {"seconds_per_drawing": seconds[k] / max(len(v), 1)} for k, v in rows.items()}}
  print(json.dumps(report, indent=1))
  if args.json:
    pathlib.Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
  main()
