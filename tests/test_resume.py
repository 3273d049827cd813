"""Exact resume: a run stopped and restarted ends bitwise where an uninterrupted one does."""

import json

import numpy as np

from conftest import (assert_bitwise_equal, check_recorded_digest, generator_of,
                      micro_config)
from jaxcolor import train


def test_stop_and_resume_is_bitwise_identical_to_uninterrupted(trained_run,
                                                               synthetic_data_dir, tmp_path):
  workdir, _ = trained_run
  first = train.train_and_evaluate(micro_config(synthetic_data_dir, steps=2), str(tmp_path))
  assert first["step"] == 2
  resumed = train.train_and_evaluate(micro_config(synthetic_data_dir, steps=4), str(tmp_path))
  assert resumed["step"] == 4
  assert_bitwise_equal(generator_of(workdir), generator_of(tmp_path))
  # The discriminator, optimiser states and data position came back too: the
  # logged losses of steps 3-4 match the uninterrupted run's.
  def losses(w):
    return [(l["step"], l["g_loss"], l["d_loss"]) for l in map(json.loads, open(w / "metrics.jsonl"))
            if "g_loss" in l and l["step"] > 2]
  assert losses(workdir) == losses(tmp_path)


def test_histogram_family_resumes_bitwise_with_its_image_pool(synthetic_data_dir, tmp_path):
  """Guides, dropout, vanilla GAN and the per-device image pool through a resume."""
  whole, parts = tmp_path / "whole", tmp_path / "parts"
  config = lambda steps: micro_config(synthetic_data_dir, family="histogram", steps=steps)
  result = train.train_and_evaluate(config(4), str(whole))
  assert np.isfinite(result["g_guide_gray"]) and np.isfinite(result["g_guide_color"])
  train.train_and_evaluate(config(2), str(parts))
  train.train_and_evaluate(config(4), str(parts))
  assert_bitwise_equal(generator_of(whole), generator_of(parts))
  assert result["params_sha256"] == train.params_digest(generator_of(parts)[1])
  check_recorded_digest("micro_histogram", result["params_sha256"])
