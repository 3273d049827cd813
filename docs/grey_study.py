"""Figures for docs/GREY.md: what the palette tells the model, and how training inputs line up.

  .venv/bin/python docs/grey_study.py [--num 64] [--curves runs/grey/A_old runs/grey/D_all]

Reads the validation splits of synthetic_cels (configs/tiny.py) and the starter pairs
(configs/starter.py) from $JAXCOLOR_DATA_DIR; prints markdown tables.
"""

import argparse
import os

import numpy as np

from jaxcolor import color as color_lib
from jaxcolor import config_utils
from jaxcolor import hints
from jaxcolor.data import build
from jaxcolor.data import pipeline

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _coverage(color, palette):
  """Share of pixels whose nearest palette colour is each slot: (9,)."""
  px = color.reshape(-1, 3).astype(np.float32)
  d = ((px[:, None, :] - palette[None].astype(np.float32)) ** 2).sum(-1)
  return np.bincount(d.argmin(1), minlength=len(palette)) / len(px)


def _palette_distance(a, b):
  """Mean RGB distance from each colour of a to its nearest in b (0..441)."""
  d = np.sqrt(((a[:, None].astype(np.float32) - b[None].astype(np.float32)) ** 2).sum(-1))
  return float(d.min(1).mean())


def _edge(img):
  g = img.astype(np.float32)
  if g.ndim == 3:
    g = g.mean(-1)
  return np.hypot(np.diff(g, axis=0)[:, :-1], np.diff(g, axis=1)[:-1])


def _alignment(color, sketch):
  """Correlation of sketch ink with the colour image's edges, at shifts 0, 1, 2 px."""
  ink = 255.0 - sketch.astype(np.float32)
  e = _edge(color)
  out = []
  for s in (0, 1, 2):
    a = ink[:-1 - s, :-1 - s] if s else ink[:-1, :-1]
    b = e[s:, s:]
    out.append(float(np.corrcoef(a.ravel(), b.ravel())[0, 1]))
  return out


def study(config_path, num):
  config = config_utils.load_config(config_path)
  data_dir = build.data_dir_of(config)
  source = pipeline.load_source(config, "val", data_dir)
  n = min(num, len(source))
  options = hints.hint_options(config)
  rows = {"coverage": [], "paper_slots": [], "mismatch_old": [], "mismatch_new": [],
          "align": []}
  for jitter_target in (False, True):
    transform = pipeline._TrainTransform(  # pylint: disable=protected-access
        seed=0, image_size=config.image_size, hint="palette",
        crop_scale=config.data.crop_scale, augment_sketch=False, augment_reference=True,
        hint_options=options, jitter_target=jitter_target)
    for i in range(n):
      rng = np.random.default_rng(i)
      ex = transform.random_map(source[i], rng)
      target = ((ex["image"] + 1.0) * 127.5).round().astype(np.uint8)
      used = color_lib.to_uint8(ex["hint"])
      truth = hints.palette_colors(target, **options)
      key = "mismatch_new" if jitter_target else "mismatch_old"
      rows[key].append(_palette_distance(truth, used))
      if not jitter_target:
        rows["coverage"].append(_coverage(target, truth))
        rows["paper_slots"].append(int(np.sum(truth.min(-1) >= 235)))
        sketch = ((ex["sketch"][..., 0] + 1.0) * 127.5).round().astype(np.uint8)
        rows["align"].append(_alignment(target, sketch))
  return {k: np.asarray(v) for k, v in rows.items()}, n


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--num", type=int, default=64)
  parser.add_argument("--curves", nargs="*", default=(), metavar="WORKDIR",
                      help="also draw the loss terms of these training runs")
  parser.add_argument("--curves-out", default="docs/grey_curves.png")
  args = parser.parse_args()
  if args.curves:
    loss_curves(args.curves, args.curves_out)
    print(f"wrote {args.curves_out}")
  for name in ("tiny", "starter"):
    r, n = study(os.path.join(ROOT, "configs", f"{name}.py"), args.num)
    cov = r["coverage"].mean(0)
    print(f"\n### configs/{name}.py, {n} validation images, one training crop each\n")
    print("| palette slot (sorted dark to light) | " + " | ".join(str(i) for i in range(9)) + " |")
    print("|---|" + "---|" * 9)
    print("| mean share of pixels nearest | " + " | ".join(f"{c:.2f}" for c in cov) + " |")
    print(f"\n- slots that are paper (all channels >= 235): mean {r['paper_slots'].mean():.1f} "
          "of 9")
    print(f"- palette the model was given vs. the palette of the image it must paint "
          f"(mean RGB distance to the nearest colour, 0-441): reference-only jitter "
          f"{r['mismatch_old'].mean():.1f}, target jittered too {r['mismatch_new'].mean():.1f}")
    a = r["align"].mean(0)
    print(f"- sketch ink vs. colour edges after crop and flip, correlation at a shift of "
          f"0 / 1 / 2 px: {a[0]:.3f} / {a[1]:.3f} / {a[2]:.3f}")


if __name__ == "__main__":
  main()


def _read_metrics(workdir):
  import json  # pylint: disable=g-import-not-at-top
  rows = []
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    for line in f:
      r = json.loads(line)
      if "g_l1" in r:
        rows.append(r)
  return rows


def loss_curves(workdirs, out, weights=None):
  """One panel per weighted loss term and D's mean scores; one line per run (PIL only)."""
  from PIL import Image, ImageDraw  # pylint: disable=g-import-not-at-top
  weights = weights or {"g_l1": 100.0, "g_adv": 1.0, "g_feature": 1e-4, "g_tv": 1e-2}
  panels = [(f"{w:g} x {k}", k, w) for k, w in weights.items()]
  panels += [("D mean score, real", "d_real", 1.0), ("D mean score, fake", "d_fake", 1.0)]
  colours = [(200, 40, 40), (40, 90, 200), (30, 150, 60), (160, 60, 170)]
  runs = {os.path.basename(w.rstrip("/")): _read_metrics(w) for w in workdirs}
  pw, ph, pad = 300, 170, 28
  img = Image.new("RGB", (pw * 3, ph * 2 + 24), "white")
  draw = ImageDraw.Draw(img)
  for i, (title, key, w) in enumerate(panels):
    x0, y0 = (i % 3) * pw, (i // 3) * ph
    series = {n: [(r["step"], w * r[key]) for r in rows if key in r] for n, rows in runs.items()}
    values = [v for s in series.values() for _, v in s]
    steps = [t for s in series.values() for t, _ in s]
    if not values:
      continue
    lo, hi = min(values), max(values)
    hi = hi if hi > lo else lo + 1.0
    t_max = max(steps)
    draw.rectangle([x0 + pad, y0 + pad, x0 + pw - 8, y0 + ph - 18], outline=(180, 180, 180))
    draw.text((x0 + pad, y0 + 8), title, fill="black")
    draw.text((x0 + 2, y0 + pad), f"{hi:.2g}", fill=(90, 90, 90))
    draw.text((x0 + 2, y0 + ph - 30), f"{lo:.2g}", fill=(90, 90, 90))
    for c, (name, s) in enumerate(series.items()):
      pts = [(x0 + pad + (pw - pad - 8) * t / t_max,
              y0 + ph - 18 - (ph - pad - 18) * (v - lo) / (hi - lo)) for t, v in s]
      if len(pts) > 1:
        draw.line(pts, fill=colours[c % len(colours)], width=2)
  for c, name in enumerate(runs):
    draw.text((10 + 180 * c, ph * 2 + 6), f"-- {name}", fill=colours[c % len(colours)])
  img.save(out)
