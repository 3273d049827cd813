"""The starter model that ships in the package: it loads, colours, follows points, fails clearly."""

import shutil

import numpy as np
import pytest

from jaxcolor import color
from jaxcolor import demo
from jaxcolor import infer
from jaxcolor import metrics
from jaxcolor import starter
from jaxcolor.data import images
from jaxcolor.errors import UserError

# A bundled held-out drawing's ground truth has colourfulness 40-90; grey has 0.
COLOURFUL_FLOOR = 15.0


@pytest.fixture(scope="module")
def colorizer():
  # These tests hold the palette starter to what it was shipped for; the default model is
  # the reference family's (test_the_default_model_is_the_reference_family).
  return infer.Colorizer.from_checkpoint(model="palette")


def _colourfulness(img):
  return float(metrics.colourfulness(color.to_float(np.asarray(img))[None])[0])


def test_starter_loads_with_points(colorizer):
  assert colorizer.source == starter.source_name("palette") and colorizer.takes_points
  assert colorizer.step > 0 and colorizer.config.model.family == "palette"


def test_starter_colours_a_bundled_sketch(colorizer):
  name, sketch, ref = demo.bundled_pairs()[0]
  out = colorizer(sketch, reference=ref)
  assert out.size == images.load_rgb(sketch).shape[1::-1], name
  assert _colourfulness(out) > COLOURFUL_FLOOR
  # Same call, same pixels: inference is deterministic without a seed.
  np.testing.assert_array_equal(np.asarray(out), np.asarray(colorizer(sketch, reference=ref)))


def test_points_change_the_output_near_them_more_than_far(colorizer):
  _, sketch, _ = demo.bundled_pairs()[1]
  gray = infer.load_sketch(sketch)
  h, w = gray.shape
  rgba = np.zeros((h, w, 4), np.uint8)
  y, x = h // 2, w // 2
  rgba[y - 2:y + 3, x - 2:x + 3] = (20, 60, 230, 255)
  palette = "#f4d3b5,#e8a87c,#c38d9e,#41b3a3,#2e4057"
  base = np.asarray(colorizer(gray, palette=palette), np.float32)
  dotted = np.asarray(colorizer(gray, palette=palette, points=rgba), np.float32)
  change = np.abs(dotted - base).mean(-1)
  yy, xx = np.mgrid[:h, :w]
  dist = np.hypot(yy - y, xx - x)
  near, far = change[dist <= 12].mean(), change[dist >= 64].mean()
  assert near > 2 * far and near > 5.0, (near, far)


def test_missing_weights_say_how_to_rebuild(tmp_path):
  with pytest.raises(UserError, match="make starter") as e:
    starter.load(tmp_path / "nowhere")
  assert "\n" not in str(e.value)


def test_corrupt_weights_say_how_to_rebuild(tmp_path):
  bad = tmp_path / "starter"
  shutil.copytree(starter.weights_dir("palette"), bad)
  (bad / starter.PARAMS_FILE).write_bytes(b"PK\x03\x04 truncated")
  with pytest.raises(UserError, match="corrupt.*make starter"):
    starter.load(bad)


def test_export_round_trip_through_float16(trained_run, tmp_path):
  from jaxcolor import checkpoint  # pylint: disable=g-import-not-at-top
  workdir, _ = trained_run
  info = starter.export(workdir, tmp_path / "w")
  config, params, step = starter.load(tmp_path / "w")
  assert step == info["step"] == 4 and info["bytes"] > 0
  original_config, original, _ = checkpoint.load_generator(str(workdir))
  assert config.to_dict() == original_config.to_dict()
  flat = dict(starter._flatten(params))  # pylint: disable=protected-access
  for path, leaf in starter._flatten(original):  # pylint: disable=protected-access
    # Exactly the float16 rounding of each parameter, back in float32.
    np.testing.assert_array_equal(
        flat.pop(path), np.asarray(leaf, np.float32).astype(np.float16).astype(np.float32))
  assert not flat
  sketch = np.full((64, 64), 255, np.uint8)
  sketch[20:40, 30] = 0
  assert infer.Colorizer(config, params)(sketch, palette="#c0392b,#2e4057").size == (64, 64)


def test_demo_colours_the_bundled_sketches(tmp_path, capsys):
  assert demo.run_starter(str(tmp_path)) == 0
  sheet = images.load_rgb(tmp_path / "sheet.png")
  n = len(demo.bundled_pairs())
  assert n >= 4 and sheet.shape[0] == 256 * n and sheet.shape[1] == 256 * 6
  assert "contact sheet" in capsys.readouterr().out


def test_colorizer_import_is_inference_only():
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  code = ("import sys; from jaxcolor import Colorizer; "
          "heavy = [m for m in ('grain', 'tensorflow_datasets', 'jaxcolor.train', "
          "'jaxcolor.data.pipeline') if m in sys.modules]; print(','.join(heavy))")
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       check=True)
  assert out.stdout.strip() == ""


@pytest.fixture(scope="module")
def reference_model():
  return infer.Colorizer.from_checkpoint(model="reference")


def test_the_default_model_is_the_reference_family():
  # It beat the palette starter on both held-out sets (README, "Which is the default").
  assert starter.weights_dir() == starter.weights_dir("reference") != starter.weights_dir("palette")
  assert starter.source_name() == starter.source_name("reference")


def test_the_shipped_reference_model_loads_by_name(reference_model):
  assert reference_model.source == starter.source_name("reference")
  assert reference_model.config.model.family == "reference" and reference_model.takes_points
  name, sketch, ref = demo.bundled_pairs()[0]
  out = reference_model(sketch, reference=ref)
  assert out.size == images.load_rgb(sketch).shape[1::-1], name
  assert _colourfulness(out) > COLOURFUL_FLOOR


def test_a_dot_colours_its_own_region_more_than_the_rest(reference_model):
  from jaxcolor.paint import regions as regions_lib  # pylint: disable=g-import-not-at-top
  _, sketch_path, ref = demo.bundled_pairs()[1]
  sketch = infer.load_sketch(sketch_path)
  r = regions_lib.segment(sketch)
  # The largest region that is not paper, and a dot at its most inner pixel.
  sizes = np.bincount(r.labels.ravel(), minlength=r.count)
  sizes[np.flatnonzero(r.border)] = 0
  target = int(np.argmax(sizes))
  inside = r.labels == target
  from scipy import ndimage  # pylint: disable=g-import-not-at-top
  y, x = np.unravel_index(np.argmax(ndimage.distance_transform_edt(inside)), inside.shape)
  rgba = np.zeros(sketch.shape + (4,), np.uint8)
  rgba[y - 2:y + 3, x - 2:x + 3] = (20, 60, 230, 255)
  base = np.asarray(reference_model(sketch, reference=ref), np.float32)
  dotted = np.asarray(reference_model(sketch, reference=ref, points=rgba), np.float32)
  change = np.abs(dotted - base).mean(-1)
  dot = np.hypot(*np.mgrid[:sketch.shape[0], :sketch.shape[1]] - np.array([y, x])[:, None, None]) <= 4
  region, rest = change[inside & ~dot].mean(), change[~inside].mean()
  assert region > 3 * rest and region > 5.0, (region, rest)
