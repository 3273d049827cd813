"""The README's main job: colour the bundled sketches with the default bundled model.

`jaxcolor demo` (about a minute on a CPU, no training): each bundled held-out
sketch is coloured with another drawing's reference, with a typed palette, and
with a few colour points; the results and a contact sheet (sketch | reference |
result | palette | points) go to WORKDIR.

`jaxcolor demo --train` is the older, longer tour:
1. builds `synthetic_cels` (first run only) and trains configs/tiny.py (resumes if
   WORKDIR already holds a run);
2. colours held-out sketches with another example's reference and with a
   typed palette, into WORKDIR/demo/;
3. evaluates on the validation split against the sketch-only and flat-fill
   baselines, printing the table and writing report.json and sheet.png.
"""

import os
import pathlib
import time

import numpy as np

from jaxcolor import color
from jaxcolor import config_utils
from jaxcolor import evaluate
from jaxcolor import hints
from jaxcolor import infer
from jaxcolor import train
from jaxcolor.data import builders
from jaxcolor.data import images
from jaxcolor.data import pipeline
from jaxcolor.errors import UserError

DEMO_PALETTE = "#f4d3b5,#e8a87c,#c38d9e,#41b3a3,#2e4057,#f6f5ae,#ffffff,#85cdca,#e27d60"
NUM_EXAMPLES = 4
ASSETS = pathlib.Path(__file__).resolve().parent / "assets" / "demo"
# Colour points for the demo, as fractions of the sketch's side: (y, x, colour).
DEMO_POINTS = ((0.35, 0.5, (230, 60, 60)), (0.7, 0.5, (60, 110, 220)))


def bundled_pairs():
  """[(name, sketch path, reference path)] of the bundled held-out drawings."""
  pairs = []
  for sketch in sorted(ASSETS.glob("*_sketch.png")):
    name = sketch.name.removesuffix("_sketch.png")
    pairs.append((name, sketch, sketch.with_name(f"{name}_reference.png")))
  return pairs


def demo_points(h, w):
  """An RGBA points image (h, w, 4) with the DEMO_POINTS as small discs."""
  return hints.points_image([(fx * w, fy * h, colour) for fy, fx, colour in DEMO_POINTS], h, w)


def _points_view(sketch, rgba):
  """The sketch with its points drawn on, for the contact sheet."""
  view = np.repeat(sketch[..., None], 3, -1).copy()
  on = rgba[..., 3] >= 128
  view[on] = rgba[on][:, :3]
  return view


def run_starter(workdir: str, checkpoint=None) -> int:
  """Colours the bundled sketches with the starter (or a checkpoint); writes a sheet."""
  start = time.time()
  out_dir = pathlib.Path(workdir)
  if not bundled_pairs():
    raise UserError(f"no bundled sketches in {ASSETS}: reinstall jaxcolor")
  colorizer = infer.Colorizer.from_checkpoint(checkpoint)
  print(f"[1/2] loaded {colorizer.source} (step {colorizer.step}) in "
        f"{time.time() - start:.1f} s", flush=True)
  rows = []
  for name, sketch_path, ref_path in bundled_pairs():
    sketch = infer.load_sketch(sketch_path)
    ref = images.load_rgb(ref_path)
    pts = demo_points(*sketch.shape)
    results = {"reference": colorizer(sketch, reference=ref)}
    # A histogram model reads references only; its palette column repeats the first. (The
    # reference family reads a typed palette as a swatch picture.)
    results["palette"] = (colorizer(sketch, palette=DEMO_PALETTE)
                          if colorizer.kind != "histogram" else results["reference"])
    if colorizer.takes_points:
      results["points"] = colorizer(sketch, reference=ref, points=pts)
    for tag, img in results.items():
      images.save_image(img, out_dir / f"{name}_{tag}.png")
    rgb = lambda a: color.to_float(np.asarray(a))
    cols = [rgb(np.repeat(sketch[..., None], 3, -1)), rgb(ref), rgb(results["reference"]),
            rgb(results["palette"])]
    if "points" in results:
      cols += [rgb(_points_view(sketch, pts)), rgb(results["points"])]
    rows.append(cols)
  sheet = np.concatenate([np.concatenate(r, 1) for r in rows], 0)
  sheet_path = out_dir / "sheet.png"
  images.save_image(color.to_uint8(sheet), sheet_path)
  columns = "sketch | reference | result | palette result" + (
      " | points | result with points" if colorizer.takes_points else "")
  print(f"[2/2] coloured {len(rows)} bundled sketches in {time.time() - start:.1f} s; "
        f"contact sheet ({columns}): {sheet_path}")
  print(f"try: jaxcolor colorize {bundled_pairs()[0][1]} --reference YOUR_IMAGE.png")
  return 0


def _config(steps, overrides):
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  config = config_utils.load_config(os.path.join(root, "configs", "tiny.py"))
  config = config_utils.apply_overrides(config, overrides)
  if steps is not None:
    config.num_train_steps = int(steps)
  return config


def _write_inputs(config, data_dir, out_dir):
  """Held-out sketches and references as files, the way a user would have them."""
  source = pipeline.load_source(config, "val", data_dir)
  n = min(NUM_EXAMPLES, len(source) - 1)
  pairs = []
  for i in range(n):
    sketch = source[i]["sketch"][..., 0]
    reference = source[i + 1]["image"]  # another example's colours
    s_path = os.path.join(out_dir, "inputs", f"sketch_{i}.png")
    r_path = os.path.join(out_dir, "inputs", f"reference_{i}.png")
    os.makedirs(os.path.dirname(s_path), exist_ok=True)
    images.save_image(sketch, s_path)
    images.save_image(reference, r_path)
    pairs.append((s_path, r_path))
  return pairs


def run(workdir: str, steps=None, overrides=()) -> int:
  config = _config(steps, overrides)
  workdir = os.path.abspath(workdir)
  data_dir = builders.data_dir_of(config)
  print(f"[1/3] training configs/tiny.py for {config.num_train_steps} steps in {workdir} "
        f"(data: {data_dir}; the first run builds synthetic_cels)", flush=True)
  result = train.train_and_evaluate(config, workdir)
  print(f"      step {result['step']}: val PSNR {result.get('val_psnr', float('nan')):.2f} dB, "
        f"SSIM {result.get('val_ssim', float('nan')):.3f}")

  out_dir = os.path.join(workdir, "demo")
  print(f"[2/3] colouring held-out sketches into {out_dir}", flush=True)
  colorizer = infer.Colorizer.from_checkpoint(workdir)
  written = []
  for i, (sketch, reference) in enumerate(_write_inputs(config, data_dir, out_dir)):
    for tag, kwargs in (("reference", {"reference": reference}),
                        ("palette", {"palette": DEMO_PALETTE})):
      path = os.path.join(out_dir, f"sketch_{i}_{tag}.png")
      images.save_image(colorizer(sketch, **kwargs), path)
      written.append(path)
  print(f"      wrote {len(written)} images, e.g. {written[0]}")

  print("[3/3] evaluating on the validation split", flush=True)
  report, samples = evaluate.evaluate_dataset(colorizer, data_dir=data_dir, split="val",
                                              num_examples=config.num_eval_examples)
  print(evaluate.format_table(report))
  evaluate.write_report(report, os.path.join(workdir, "report.json"))
  sheet = os.path.join(workdir, "sheet.png")
  images.save_image(evaluate.contact_sheet(samples.get("shuffled", samples["self"])), sheet)
  print(f"\nreport: {os.path.join(workdir, 'report.json')}\ncontact sheet (sketch | reference | "
        f"output | ground truth): {sheet}\nsamples during training: {workdir}/samples/\n"
        f"try: jaxcolor colorize {out_dir}/inputs/sketch_0.png --palette '{DEMO_PALETTE}' "
        f"--checkpoint {workdir} --variations 3 --seed 1")
  return 0
