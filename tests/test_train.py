"""The trainer: bitwise reproducibility, NaN stop, run records, the image pool.

Exact resume is in test_resume.py, bfloat16 compute in test_mixed_precision.py.
"""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import (assert_bitwise_equal, check_recorded_digest, generator_of,
                      micro_config)
from jaxcolor import train


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
  train.train_and_evaluate(micro_config(synthetic_data_dir), str(tmp_path))
  assert_bitwise_equal(generator_of(workdir), generator_of(tmp_path))


def test_other_seed_gives_other_parameters(reference_run, synthetic_data_dir, tmp_path):
  workdir, _ = reference_run
  config = micro_config(synthetic_data_dir, steps=2)
  config.seed = 1
  train.train_and_evaluate(config, str(tmp_path))
  (_, a), (_, b) = generator_of(workdir), generator_of(tmp_path)
  assert not np.array_equal(a["body"]["out_conv"]["kernel"], b["body"]["out_conv"]["kernel"])


def test_nan_loss_stops_naming_step_and_loss(synthetic_data_dir, tmp_path, monkeypatch):
  # NaN targets, not a NaN loss weight: the step is the compiled one of the other tests.
  from jaxcolor.data import pipeline  # pylint: disable=g-import-not-at-top
  loader = pipeline.make_train_loader

  def poisoned(*args, **kwargs):
    for batch in loader(*args, **kwargs):
      yield dict(batch, image=np.full_like(batch["image"], np.nan))

  monkeypatch.setattr(pipeline, "make_train_loader", poisoned)
  with pytest.raises(train.TrainingDiverged, match=r"step 1: [dg]_loss is nan"):
    train.train_and_evaluate(micro_config(synthetic_data_dir, steps=3), str(tmp_path))
  assert not os.path.exists(tmp_path / "checkpoints") or not os.listdir(tmp_path / "checkpoints")


def test_image_pool_fills_then_swaps_with_probability_half():
  size, h = 4, 2
  images = jnp.zeros((size, h, h, 1))
  count = jnp.zeros((), jnp.int32)
  items = jnp.arange(1, 3, dtype=jnp.float32)[:, None, None, None] * jnp.ones((2, h, h, 1))
  images, count, out = train.pool_query(images, count, items, jax.random.key(0))
  assert int(count) == 2
  np.testing.assert_array_equal(out, items)  # not full yet: passed through
  np.testing.assert_array_equal(images[:2], items)
  images, count, _ = train.pool_query(images, count, items + 2, jax.random.key(1))
  assert int(count) == 4 and set(np.unique(images).tolist()) == {1.0, 2.0, 3.0, 4.0}
  swapped = 0
  for i in range(200):
    new = jnp.full((1, h, h, 1), 100.0 + i)
    images, count, out = train.pool_query(images, count, new, jax.random.key(10 + i))
    swapped += int(out[0, 0, 0, 0] != 100.0 + i)
    assert int(count) == 4
  assert 70 < swapped < 130


def test_seeded_run_matches_the_digest_recorded_before_the_restructuring(reference_run):
  _, result = reference_run
  check_recorded_digest("micro_palette", result["params_sha256"])
