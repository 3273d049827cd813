"""Evaluation on a micro random model: report keys, finite numbers, baselines, contact sheet."""

import json
import math

import numpy as np
import pytest
from PIL import Image

from conftest import config_module
from jaxcolor import cli
from jaxcolor import color as color_lib
from jaxcolor import evaluate
from jaxcolor import hints
from jaxcolor import infer
from jaxcolor import models
from jaxcolor.data import builders
from jaxcolor.data import synthetic
from jaxcolor.models import vgg

micro = config_module("micro")

SIZE = 32
DATA_KWARGS = {"num_train": 1, "num_val": 4, "resolution": SIZE}
SELF_METRICS = {"psnr", "ssim", "l1", "vgg_perceptual", "colourfulness"}


def random_params(model_config):
  return models.init_generator(model_config, 0, SIZE)


@pytest.fixture(scope="module")
def colorizer():
  config = micro.get_config("palette")
  config.data.builder_kwargs = dict(DATA_KWARGS)
  return infer.Colorizer(config, random_params(config.model), step=7, source="fake/workdir")


@pytest.fixture(scope="module")
def vgg_params():
  return vgg.load_vgg16_params()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  d = tmp_path_factory.mktemp("tfds")
  builders.build_dataset("synthetic_cels", d, workers=0, **DATA_KWARGS)
  return d


def _hand_batches(n=4, per_batch=2, size=SIZE):
  """Batches laid out like pipeline.make_eval_batches (leading axes (1, B)), no mask."""
  examples = []
  for i in range(n):
    color, sketch = synthetic.draw_cel(synthetic.example_seed("val", i), size=size)
    examples.append({"sketch": color_lib.to_float(sketch)[..., None],
                     "image": color_lib.to_float(color),
                     "reference": color_lib.to_float(color),
                     "hint": color_lib.to_float(hints.compute_hint("palette", color))})
  return [{k: np.stack([e[k] for e in examples[s:s + per_batch]])[None] for k in examples[0]}
          for s in range(0, n, per_batch)]


def _all_finite(table):
  return all(math.isfinite(v) for values in table.values() for v in values.values())


def test_evaluate_self_mode(colorizer, vgg_params):
  result = evaluate.evaluate(colorizer, _hand_batches(), mode="self", vgg_params=vgg_params)
  assert result["num_examples"] == 4
  table = result["metrics"]
  assert set(table) == set(evaluate.METHODS) | {"ground_truth"}
  assert set(table.pop("ground_truth")) == {"colourfulness"}
  for values in table.values():
    assert set(values) == SELF_METRICS
  assert _all_finite(table)
  assert -1 <= table["model"]["ssim"] <= 1
  # The sketch is a fair grey version of a flat cel: closer than random colours would be.
  assert table["sketch"]["psnr"] > 5
  assert {k: v.shape for k, v in result["samples"].items()} == {
      c: (4, SIZE, SIZE, 3) for c in evaluate.SHEET_COLUMNS}


def test_as_colorizer(colorizer):
  assert evaluate.as_colorizer(colorizer) is colorizer
  made = evaluate.as_colorizer((colorizer.config, colorizer.params))
  assert isinstance(made, infer.Colorizer) and made.kind == "palette"
  with pytest.raises(TypeError):
    evaluate.as_colorizer("nope")


def test_evaluate_shuffled_mode_with_mask(colorizer):
  batches = _hand_batches()
  batches[1]["mask"] = np.array([[1.0, 0.0]], np.float32)
  result = evaluate.evaluate(colorizer, batches, mode="shuffled")
  assert result["num_examples"] == 3
  assert set(result["metrics"]) == set(evaluate.METHODS) | {"ground_truth"}
  assert set(result["metrics"]["ground_truth"]) == {"color_hist_dist"}
  assert set(result["metrics"]["model"]) == {"color_hist_dist", "ssim"}
  # Same references as the ground truth here: its distance is the floor, near 0.
  assert result["metrics"]["ground_truth"]["color_hist_dist"] < 1e-3
  assert _all_finite(result["metrics"])


def test_dominant_color_skips_paper():
  img = np.full((10, 10, 3), 255, np.uint8)
  img[:3] = (200, 30, 40)
  img[3:4] = (20, 40, 200)
  np.testing.assert_array_equal(evaluate.dominant_color(img), (200, 30, 40))
  white = np.full((4, 4, 3), 250, np.uint8)
  np.testing.assert_array_equal(evaluate.dominant_color(white), (250, 250, 250))


def test_flat_fill_baseline():
  sketch = np.ones((1, 4, 4, 1), np.float32)
  sketch[0, 0, 0] = -1.0  # one ink pixel
  ref = np.full((1, 4, 4, 3), -1.0, np.float32)
  ref[..., 0] = 1.0  # pure red
  flat = evaluate.flat_fill_baseline(sketch, ref)
  np.testing.assert_allclose(flat[0, 1, 1], [1.0, -1.0, -1.0])
  np.testing.assert_allclose(flat[0, 0, 0], [-1.0, -1.0, -1.0])


def test_run_writes_report_and_sheet(colorizer, data_dir, tmp_path, capsys):
  out, sheet = tmp_path / "r" / "report.json", tmp_path / "sheet.png"
  args, _ = cli.parse_args(["evaluate", "--checkpoint", "unused", "--data-dir", str(data_dir), "--num", "4",
                            "--batch-size", "2", "--out", str(out), "--sheet", str(sheet)])
  assert evaluate.run(args, colorizer=colorizer) == 0
  report = json.loads(out.read_text())
  for key in ("checkpoint", "step", "config_name", "dataset", "split", "num_examples",
              "image_size", "modes", "perceptual_weights"):
    assert key in report
  assert report["step"] == 7 and report["num_examples"] == 4
  assert report["dataset"] == "synthetic_cels"
  self_ref = report["modes"]["self_reference"]["metrics"]
  shuffled = report["modes"]["shuffled_reference"]["metrics"]
  assert set(self_ref) == set(evaluate.METHODS) | {"ground_truth"}
  assert set(shuffled) == set(evaluate.METHODS) | {"ground_truth"}
  following = report["modes"]["reference_following"]["metrics"]
  assert set(following) == set(evaluate.METHODS)
  assert all(0.0 <= v["share"] <= 1.0 for v in following.values())
  assert "colour_points" not in report["modes"]  # the micro model takes no points
  self_ref.pop("ground_truth")
  assert set(self_ref["model"]) == SELF_METRICS
  assert _all_finite(self_ref) and _all_finite(shuffled)
  assert Image.open(sheet).size == (4 * SIZE, 4 * SIZE)  # 4 columns, 4 examples
  printed = capsys.readouterr().out
  assert "self_reference" in printed and "flat_fill" in printed
  table = evaluate.format_table(report)
  assert "vgg_perceptual" in table and "color_hist_dist" in table and "LPIPS" not in table
  assert "colourfulness" in table and "share" in table


def _grey_and_colour_batches(n=6):
  """Self and shuffled batches of colourful cels (own and deranged references)."""
  # 64 px: at 32 the cels are mostly outline, too little fill to tell colours apart.
  own = _hand_batches(n, per_batch=n, size=64)
  other = {k: v.copy() for k, v in own[0].items()}
  perm = np.roll(np.arange(n), 1)
  other["reference"] = own[0]["reference"][:, perm]
  other["hint"] = own[0]["hint"][:, perm]
  return own, [other]


class _Echo(infer.Colorizer):
  """A stand-in model that paints its palette's colours or, when grey, only grey."""

  def __init__(self, colorizer, grey):  # pylint: disable=super-init-not-called
    self.__dict__.update(colorizer.__dict__)
    self.grey = grey

  def colorize_batch(self, sketch, hint, seed=None, points=None):
    del seed, points
    b, h, w, _ = np.shape(sketch)
    if self.grey:
      return np.repeat(np.asarray(sketch, np.float32), 3, -1) * 0.5
    # Vertical stripes of the nine palette colours: the reference's colours, anywhere.
    stripes = np.asarray(hint)[:, np.arange(w) * 9 // w]  # (B, W, 3)
    return np.broadcast_to(stripes[:, None], (b, h, w, 3)).astype(np.float32)


def test_all_grey_is_least_colourful_and_at_chance(colorizer):
  own, other = _grey_and_colour_batches()
  results = {}
  for name, model in (("grey", _Echo(colorizer, True)), ("follower", _Echo(colorizer, False))):
    self_res = evaluate.evaluate(model, own, mode="self", return_outputs=True)
    shuf_res = evaluate.evaluate(model, other, mode="shuffled", return_outputs=True)
    results[name] = (self_res, evaluate.reference_following(self_res, shuf_res))
  self_res, following = results["grey"]
  colourful = {m: v["colourfulness"] for m, v in self_res["metrics"].items()}
  # The grey model and the all-grey baseline paint no colour: nothing scores lower.
  assert colourful["model"] == pytest.approx(0.0, abs=1e-3)
  assert colourful["all_grey"] <= min(colourful.values()) + 1e-3  # float noise around 0
  assert all(v > 5 for m, v in colourful.items() if m in ("flat_fill", "mean_fill"))
  assert colourful["ground_truth"] > 10
  # An output that does not depend on the reference is exactly at chance.
  assert following["model"]["share"] == 0.5
  assert following["all_grey"]["share"] == 0.5
  assert following["sketch"]["share"] == 0.5
  # A model that paints the reference's colours follows it.
  assert results["follower"][1]["model"]["share"] > 0.7
  assert following["flat_fill"]["share"] > 0.5


def test_colourfulness_metric():
  from jaxcolor import metrics
  grey = np.zeros((1, 8, 8, 3), np.float32)
  red = np.full((1, 8, 8, 3), -1.0, np.float32)
  red[..., 0] = 1.0
  half = red.copy()
  half[:, :4] = grey[:, :4]
  c = np.asarray(metrics.colourfulness(np.concatenate([grey, red, half])))
  assert c[0] == pytest.approx(0.0, abs=1e-4)
  # All red: no spread, mean chroma sqrt(255^2 + 127.5^2) times 0.3.
  assert c[1] == pytest.approx(0.3 * np.hypot(255.0, 127.5), rel=1e-4)
  assert c[2] > c[1]  # a half-red half-grey picture varies, so it counts more


def test_run_usage_errors(colorizer):
  args, _ = cli.parse_args(["evaluate", "--checkpoint", "x", "--step", "3", "--best"])
  with pytest.raises(evaluate.UserError, match="--step"):
    evaluate.run(args, colorizer=colorizer)
