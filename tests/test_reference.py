"""The reference family: shapes, attention, reproducible training, inference from a checkpoint."""

import base64
import io
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from conftest import (assert_bitwise_equal, config_module, generator_of, micro_config)
from jaxcolor import cli
from jaxcolor import hints
from jaxcolor import infer
from jaxcolor import losses
from jaxcolor import models
from jaxcolor import starter
from jaxcolor import train
from jaxcolor.errors import UserError
from jaxcolor.models import layers

reference_config = config_module("reference")
micro = config_module("micro")


def test_full_size_parameter_count():
  """configs/reference.py, counted through eval_shape (nothing allocated)."""
  c = reference_config.get_config()
  assert models.count_params(models.generator_shapes(c.model, 256)) == 48_065_433
  assert c.model.family == c.model.hint == "reference"


def test_generator_takes_references_of_other_sizes_and_aspects():
  c = micro.get_config("reference")
  gen = models.make_generator(c.model)
  params = models.init_generator(c.model, 0, 32)
  cin = models.input_channels(c.model.hint, models.uses_points(c.model))
  apply = lambda p, x, r: gen.apply({"params": p}, x, r, noise_mode="zero")
  x = jax.ShapeDtypeStruct((2, 32, 48, cin), jnp.float32)
  for ref_shape in ((2, 12, 40, 3), (2, 64, 8, 3), (2, 32, 48, 3)):
    out = jax.eval_shape(apply, params, x, jax.ShapeDtypeStruct(ref_shape, jnp.float32))
    assert out.shape == (2, 32, 48, 3)
  with pytest.raises(ValueError, match="reference size 10x40"):
    jax.eval_shape(apply, params, x, jax.ShapeDtypeStruct((2, 10, 40, 3), jnp.float32))
  with pytest.raises(ValueError, match="needs a reference"):
    jax.eval_shape(apply, params, x, None)


def _qkv(seed, b=2, nq=50, nk=12, heads=3, d=4):
  r = np.random.default_rng(seed)
  return [jnp.asarray(r.normal(size=(b, n, heads, d)), jnp.float32) for n in (nq, nk, nk)]


def test_attention_in_query_blocks_equals_one_pass():
  q, k, v = _qkv(0)
  whole = layers.attend(q, k, v)
  blocked = layers.attend(q, k, v, block=7)  # 50 queries: 8 blocks, the last one padded
  np.testing.assert_allclose(np.asarray(blocked), np.asarray(whole), rtol=1e-5, atol=1e-6)


def test_masked_reference_positions_cannot_change_the_result():
  q, k, v = _qkv(1)
  mask = jnp.asarray(np.arange(12) < 8, jnp.float32)[None].repeat(2, 0)
  k2 = k.at[:, 8:].set(1e3)
  v2 = v.at[:, 8:].set(-7.0)
  a = layers.attend(q, k, v, mask)
  np.testing.assert_array_equal(np.asarray(a), np.asarray(layers.attend(q, k2, v2, mask)))
  np.testing.assert_allclose(np.asarray(a), np.asarray(layers.attend(q, k[:, :8], v[:, :8])),
                             rtol=1e-5, atol=1e-6)


def test_found_colours_are_the_reference_colours_where_the_match_is_sure():
  """The colours the attention hands to the output layer: weighted reference colours,
  so one reference colour comes back exactly, and a masked position's colour never."""
  r = np.random.default_rng(2)
  sketch_feat = jnp.asarray(r.normal(size=(1, 4, 4, 8)), jnp.float32)
  ref_feat = jnp.asarray(r.normal(size=(1, 2, 3, 8)), jnp.float32)
  attention = layers.ReferenceAttention(heads=2, head_dim=4, features=5)
  flat = jnp.full((1, 2, 3, 3), 0.25, jnp.float32).at[..., 1].set(-0.5)
  params = attention.init(jax.random.key(0), sketch_feat, ref_feat, ref_feat,
                          ref_colors=flat)
  found, colours = attention.apply(params, sketch_feat, ref_feat, ref_feat, ref_colors=flat)
  assert found.shape == (1, 4, 4, 5) and colours.shape == (1, 4, 4, 3)
  np.testing.assert_allclose(np.asarray(colours), np.broadcast_to(flat[:, :1, :1], (1, 4, 4, 3)),
                             atol=1e-6)
  # The same features without colours: the same `found`, so colours add no parameters.
  np.testing.assert_array_equal(np.asarray(found), np.asarray(
      attention.apply(params, sketch_feat, ref_feat, ref_feat)))
  mask = jnp.asarray([[[1, 1, 0], [1, 1, 0]]], jnp.float32)
  loud = flat.at[:, :, 2].set(9.0)  # under the masked column
  _, masked = attention.apply(params, sketch_feat, ref_feat, ref_feat, mask, ref_colors=loud)
  assert float(jnp.abs(masked).max()) < 1.0


def test_fit_reference_keeps_aspect_without_padding():
  ref = np.zeros((90, 200, 3), np.uint8)
  out = hints.fit_reference(ref, 64, 8)
  assert out.shape == (32, 64, 3)
  assert hints.fit_reference(np.zeros((5, 400, 3), np.uint8), 64, 8).shape == (8, 64, 3)
  swatch = hints.palette_reference(hints.palette_from_text("#ff0000,#00ff00,#0000ff"), 30)
  assert swatch.shape == (30, 30, 3)
  colours = {tuple(c) for c in swatch.reshape(-1, 3)}
  assert {(255, 0, 0), (0, 255, 0), (0, 0, 255)} <= colours


@pytest.fixture(scope="module")
def reference_run(synthetic_data_dir, tmp_path_factory):
  """The micro reference model trained 4 steps: (workdir, result)."""
  workdir = tmp_path_factory.mktemp("reference")
  config = micro_config(synthetic_data_dir, family="reference", steps=4)
  return workdir, train.train_and_evaluate(config, str(workdir))


def test_training_is_reproducible_and_resumes_bitwise(reference_run, synthetic_data_dir,
                                                     tmp_path):
  workdir, result = reference_run
  assert result["step"] == 4 and np.isfinite(result["g_loss"])
  config = lambda steps: micro_config(synthetic_data_dir, family="reference", steps=steps)
  train.train_and_evaluate(config(2), str(tmp_path))
  again = train.train_and_evaluate(config(4), str(tmp_path))
  assert again["params_sha256"] == result["params_sha256"]
  assert_bitwise_equal(generator_of(workdir), generator_of(tmp_path))


@pytest.fixture(scope="module")
def colorizer(reference_run):
  return infer.Colorizer.from_checkpoint(str(reference_run[0]))


def _sketch(h=45, w=37):
  s = np.full((h, w), 255, np.uint8)
  s[10:12, :] = 0
  s[:, 18:20] = 0
  return s


def test_colorizer_takes_a_reference_a_palette_or_dots_alone(colorizer):
  assert colorizer.kind == "reference" and colorizer.takes_points and colorizer.has_noise
  sketch = _sketch()
  ref = np.random.default_rng(0).integers(0, 255, (50, 30, 3), dtype=np.uint8)
  out = colorizer(sketch, reference=ref)
  assert out.size == (37, 45)
  # Long side 32 (reference_side), 30 * 32 / 50 = 19.2 rounded to a multiple of 4.
  assert colorizer.hint_colors(reference=ref).shape == (32, 20, 3)
  dots = np.zeros((45, 37, 4), np.uint8)
  dots[20:24, 5:9] = (200, 30, 30, 255)
  assert colorizer(sketch, points=dots).size == (37, 45)
  np.testing.assert_array_equal(colorizer.hint_colors(points=dots), hints.no_reference(32))
  assert colorizer(sketch, palette="#ff8800,#0044aa").size == (37, 45)
  # The output depends on the reference: another reference, other colours.
  other = colorizer(sketch, reference=255 - ref)
  assert np.abs(np.asarray(out, np.int16) - np.asarray(other, np.int16)).max() > 0


def test_a_dot_changes_its_own_region_more_than_the_rest(colorizer):
  sketch = np.full((64, 64), 255, np.uint8)
  sketch[:, 31:33] = 0  # two regions: left and right of a line
  ref = np.full((32, 32, 3), 128, np.uint8)
  dots = np.zeros((64, 64, 4), np.uint8)
  dots[28:36, 10:18] = (240, 20, 20, 255)
  base = np.asarray(colorizer(sketch, reference=ref), np.float32)
  dotted = np.asarray(colorizer(sketch, reference=ref, points=dots), np.float32)
  change = np.abs(dotted - base).mean(-1)
  assert change[:, :31].mean() > change[:, 33:].mean(), (change[:, :31].mean(),
                                                         change[:, 33:].mean())


def test_export_without_out_goes_to_the_familys_own_folder(reference_run, tmp_path,
                                                          monkeypatch, capsys):
  workdir, _ = reference_run
  monkeypatch.setattr(starter, "WEIGHTS_ROOT", tmp_path)  # never the shipped weights
  assert cli.main(["export", "--checkpoint", str(workdir)]) == 0
  assert (tmp_path / "reference" / "params.npz").exists()
  assert not (tmp_path / "starter").exists()  # the palette starter is left alone
  assert str(tmp_path / "reference") in capsys.readouterr().out


def test_cli_colorize_and_float16_export(reference_run, tmp_path):
  workdir, _ = reference_run
  Image.fromarray(_sketch()).save(tmp_path / "s.png")
  Image.fromarray(np.full((40, 60, 3), (30, 90, 200), np.uint8)).save(tmp_path / "r.png")
  code = cli.main(["colorize", str(tmp_path / "s.png"), "--reference", str(tmp_path / "r.png"),
                   "--checkpoint", str(workdir), "--out", str(tmp_path / "out")])
  assert code == 0 and (tmp_path / "out" / "s_color.png").exists()
  starter.export(str(workdir), tmp_path / "weights")
  config, params, step = starter.load(tmp_path / "weights")
  assert config.model.family == "reference" and step == 4
  _, trained = generator_of(workdir)
  jax.tree_util.tree_map(
      lambda a, b: np.testing.assert_array_equal(np.asarray(a),
                                                 np.asarray(b).astype(np.float16)
                                                 .astype(np.float32)), params, trained)
  half = infer.Colorizer(config, params)
  full = infer.Colorizer.from_checkpoint(str(workdir))
  ref = np.full((32, 32, 3), 90, np.uint8)
  a = np.asarray(half(_sketch(), reference=ref), np.float32)
  b = np.asarray(full(_sketch(), reference=ref), np.float32)
  # A 4-step model's activations amplify the rounding at a few pixels (the parameters
  # above are the exact check); on average the outputs agree to within one level of 255.
  assert np.abs(a - b).mean() < 1.0


def test_triplet_loss_asks_the_matched_key_to_beat_a_random_one_by_the_margin():
  rng = jax.random.key(0)
  b, n, heads = 2, 4, 2
  match = jnp.array([[0, 1, 2, 3], [-1, -1, 2, -1]])
  # Equal scores everywhere: every matched position pays the whole margin.
  flat = jnp.ones((b, n, heads, n))
  assert float(losses.triplet(flat, flat, match, rng, 3.0)) == pytest.approx(3.0)
  # One-hot features, query i = key i (d = 4): the positive scores 1 / sqrt(4) = 0.5 and
  # any other key 0, so a margin of 0.5 costs nothing and one of 2 costs 1.5.
  onehot = jnp.broadcast_to(jnp.eye(n)[None, :, None, :], (b, n, heads, n))
  assert float(losses.triplet(onehot, onehot, match, rng, 0.5)) == 0.0
  assert float(losses.triplet(onehot, onehot, match, rng, 2.0)) == pytest.approx(1.5)
  # Nothing matched: no loss (not 0/0).
  none = jnp.full((b, n), -1)
  assert float(losses.triplet(onehot, onehot, none, rng, 2.0)) == 0.0
  # The query compared is that of the sketch position the reference position shows.
  shifted = jnp.roll(onehot, 1, axis=1)
  assert float(losses.triplet(shifted, onehot, match, rng, 0.5)) > 0.5
  roll_match = jnp.array([[1, 2, 3, 0]] * 2)
  assert float(losses.triplet(shifted, onehot, roll_match, rng, 0.5)) == 0.0


def test_triplet_loss_trains_reproducibly_and_resumes_bitwise(synthetic_data_dir, tmp_path):
  def config(steps):
    c = micro_config(synthetic_data_dir, family="reference", steps=steps)
    c.loss.triplet = 1.0
    return c
  straight = train.train_and_evaluate(config(3), str(tmp_path / "straight"))
  train.train_and_evaluate(config(2), str(tmp_path / "resumed"))
  resumed = train.train_and_evaluate(config(3), str(tmp_path / "resumed"))
  assert resumed["params_sha256"] == straight["params_sha256"]
  logged = [json.loads(line) for line in open(tmp_path / "straight" / "metrics.jsonl")]
  triplet = [r["g_triplet"] for r in logged if "g_triplet" in r]
  assert len(triplet) == 3 and all(np.isfinite(triplet)) and max(triplet) > 0


def test_triplet_loss_is_for_the_reference_family(synthetic_data_dir, tmp_path):
  c = micro_config(synthetic_data_dir, family="palette", steps=1)
  c.loss.triplet = 1.0
  with pytest.raises(UserError, match="config.loss.triplet"):
    train.train_and_evaluate(c, str(tmp_path))


def test_family_and_hint_must_agree(synthetic_data_dir, tmp_path):
  c = micro_config(synthetic_data_dir, family="reference", steps=1)
  c.model.hint = "palette"
  with pytest.raises(UserError, match="does not fit the reference family"):
    train.train_and_evaluate(c, str(tmp_path))


def test_a_bundled_model_not_yet_shipped_says_how_to_build_it(tmp_path, monkeypatch):
  monkeypatch.setattr(starter, "WEIGHTS_ROOT", tmp_path)
  with pytest.raises(UserError, match="make reference-starter"):
    infer.Colorizer.from_checkpoint(model="reference")
  with pytest.raises(UserError, match="--checkpoint or --model, not both"):
    infer.Colorizer.from_checkpoint("runs/x", model="palette")


def test_serve_colours_with_a_reference_a_palette_and_points(reference_run):
  pytest.importorskip("starlette")
  pytest.importorskip("python_multipart")
  from starlette.testclient import TestClient  # pylint: disable=g-import-not-at-top
  from jaxcolor import serve  # pylint: disable=g-import-not-at-top
  from jaxcolor.data import images  # pylint: disable=g-import-not-at-top

  colorizer = infer.Colorizer.from_checkpoint(str(reference_run[0]))
  sketch = images.encode_png(_sketch())
  ref = images.encode_png(np.full((40, 60, 3), (30, 90, 200), np.uint8))
  dots = json.dumps([{"x": 5, "y": 5, "color": "#ff0000"}])
  with TestClient(serve.make_app(colorizer)) as client:
    info = client.get("/api/health").json()
    assert info["family"] == "reference" and info["points"] is True
    for data, files in (({}, {"reference": ("r.png", ref, "image/png")}),
                        ({"palette": json.dumps(["#ff0000", "#00ff00"])}, {}),
                        ({"points": dots}, {})):
      r = client.post("/api/colorize", files={"sketch": ("s.png", sketch, "image/png"), **files},
                      data=data)
      assert r.status_code == 200, r.text
      out = r.json()["images"][0]
      img = Image.open(io.BytesIO(base64.b64decode(out.split(",", 1)[1])))
      assert img.size == _sketch().shape[::-1]
