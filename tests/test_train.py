"""The trainer: bitwise reproducibility, exact resume, NaN stop, run records, the pool."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import tiny_config
from jaxcolor import checkpoint, train


def _generator(workdir):
  _, params, step = checkpoint.load_generator(workdir)
  return step, jax.tree_util.tree_map(np.asarray, params)


def _assert_bitwise_equal(a, b):
  jax.tree_util.tree_map(np.testing.assert_array_equal, a, b)


@pytest.fixture(scope="module")
def reference_run(trained_run):
  return trained_run


def test_run_writes_checkpoints_logs_samples_and_records(reference_run):
  workdir, result = reference_run
  assert result["step"] == 4 and np.isfinite(result["val_psnr"])
  assert sorted(os.listdir(workdir / "checkpoints")) == ["2", "4"]
  assert sorted(os.listdir(workdir / "samples")) == ["step_0000002.png", "step_0000004.png"]
  lines = [json.loads(l) for l in open(workdir / "metrics.jsonl")]
  assert {l["step"] for l in lines if "g_loss" in l} == {1, 2, 3, 4}
  assert any("val_ssim" in l for l in lines)
  assert os.listdir(workdir / "tensorboard")
  info = json.load(open(workdir / "run_info.json"))
  assert info["seed"] == 0 and info["packages"]["jax"] == jax.__version__
  assert "git_commit" in info
  config = json.load(open(workdir / "config.json"))
  assert config["model"]["family"] == "palette" and config["num_train_steps"] == 4


def test_same_seed_gives_bitwise_identical_parameters(reference_run, synthetic_data_dir,
                                                      tmp_path):
  workdir, _ = reference_run
  train.train_and_evaluate(tiny_config(synthetic_data_dir), str(tmp_path))
  _assert_bitwise_equal(_generator(workdir), _generator(tmp_path))


def test_other_seed_gives_other_parameters(reference_run, synthetic_data_dir, tmp_path):
  workdir, _ = reference_run
  config = tiny_config(synthetic_data_dir, steps=2)
  config.seed = 1
  train.train_and_evaluate(config, str(tmp_path))
  (_, a), (_, b) = _generator(workdir), _generator(tmp_path)
  assert not np.array_equal(a["body"]["out_conv"]["kernel"], b["body"]["out_conv"]["kernel"])


def test_stop_and_resume_is_bitwise_identical_to_uninterrupted(reference_run,
                                                               synthetic_data_dir, tmp_path):
  workdir, _ = reference_run
  first = train.train_and_evaluate(tiny_config(synthetic_data_dir, steps=2), str(tmp_path))
  assert first["step"] == 2
  resumed = train.train_and_evaluate(tiny_config(synthetic_data_dir, steps=4), str(tmp_path))
  assert resumed["step"] == 4
  _assert_bitwise_equal(_generator(workdir), _generator(tmp_path))
  # The discriminator, optimiser states and data position came back too: the
  # logged losses of steps 3-4 match the uninterrupted run's.
  def losses(w):
    return [(l["step"], l["g_loss"], l["d_loss"]) for l in map(json.loads, open(w / "metrics.jsonl"))
            if "g_loss" in l and l["step"] > 2]
  assert losses(workdir) == losses(tmp_path)


def test_nan_loss_stops_naming_step_and_loss(synthetic_data_dir, tmp_path):
  config = tiny_config(synthetic_data_dir, steps=3)
  config.loss.l1 = float("nan")
  with pytest.raises(train.TrainingDiverged, match=r"step 1: g_loss is nan"):
    train.train_and_evaluate(config, str(tmp_path))
  assert not os.path.exists(tmp_path / "checkpoints") or not os.listdir(tmp_path / "checkpoints")


def test_image_pool_fills_then_swaps_with_probability_half():
  size, h = 4, 2
  images = jnp.zeros((size, h, h, 1))
  count = jnp.zeros((), jnp.int32)
  items = jnp.arange(1, 3, dtype=jnp.float32)[:, None, None, None] * jnp.ones((2, h, h, 1))
  images, count, out = train._pool_query(images, count, items, jax.random.key(0))
  assert int(count) == 2
  np.testing.assert_array_equal(out, items)  # not full yet: passed through
  np.testing.assert_array_equal(images[:2], items)
  images, count, _ = train._pool_query(images, count, items + 2, jax.random.key(1))
  assert int(count) == 4 and set(np.unique(images).tolist()) == {1.0, 2.0, 3.0, 4.0}
  swapped = 0
  for i in range(200):
    new = jnp.full((1, h, h, 1), 100.0 + i)
    images, count, out = train._pool_query(images, count, new, jax.random.key(10 + i))
    swapped += int(out[0, 0, 0, 0] != 100.0 + i)
    assert int(count) == 4
  assert 70 < swapped < 130


def test_histogram_family_resumes_bitwise_with_its_image_pool(synthetic_data_dir, tmp_path):
  """Guides, dropout, vanilla GAN and the per-device image pool through a resume."""
  whole, parts = tmp_path / "whole", tmp_path / "parts"
  config = lambda steps: tiny_config(synthetic_data_dir, family="histogram", steps=steps)
  result = train.train_and_evaluate(config(3), str(whole))
  assert np.isfinite(result["g_guide_gray"]) and np.isfinite(result["g_guide_color"])
  train.train_and_evaluate(config(2), str(parts))
  train.train_and_evaluate(config(3), str(parts))
  _assert_bitwise_equal(_generator(whole), _generator(parts))
  assert result["params_sha256"] == train.params_digest(_generator(parts)[1])


def test_bfloat16_compute_trains_with_float32_state(synthetic_data_dir, tmp_path):
  config = tiny_config(synthetic_data_dir, steps=2)
  config.model.dtype = "bfloat16"
  result = train.train_and_evaluate(config, str(tmp_path))
  assert np.isfinite(result["g_loss"]) and np.isfinite(result["val_psnr"])
  _, params = _generator(tmp_path)
  assert all(p.dtype == np.float32 for p in jax.tree_util.tree_leaves(params))
