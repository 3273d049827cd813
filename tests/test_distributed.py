"""Multi-host training: 2 processes x 2 CPU devices over gloo vs 1 process x 4 devices."""

import json
import os
import re
import socket
import subprocess
import sys

import numpy as np

from conftest import ROOT, SYNTHETIC_SIZES
from jaxcolor import checkpoint
from jaxcolor import config_utils
from jaxcolor import train

STEPS = 3
CONFIG = "configs/micro.py"


def _free_port():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _overrides(data_dir):
  # Per-device batch 2, as conftest's trained_run: the one-process reference below
  # reuses that run's compiled step.
  return [f"num_train_steps={STEPS}", "per_device_batch_size=2", "log_every_steps=1",
          "eval_every_steps=100", "sample_every_steps=100", "checkpoint_every_steps=100",
          "num_eval_examples=4", f"data.data_dir={data_dir}",
          f"data.builder_kwargs.num_train={SYNTHETIC_SIZES['num_train']}",
          f"data.builder_kwargs.num_val={SYNTHETIC_SIZES['num_val']}"]


def _train_cmd(workdir, data_dir):
  return [sys.executable, "-m", "jaxcolor", "train", "--config", CONFIG, "--workdir",
          str(workdir), "--no-progress", *(f"--config.{o}" for o in _overrides(data_dir))]


def _env(devices):
  env = dict(os.environ, JAX_NUM_CPU_DEVICES=str(devices), JAX_PLATFORMS="cpu",
             XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
  return env


def _digest(output):
  found = re.findall(r"generator params sha256 ([0-9a-f]{64})", output)
  assert len(found) == 1, output[-2000:]
  return found[0]


def test_two_processes_match_one_process(synthetic_data_dir, tmp_path):
  port = _free_port()
  multi = tmp_path / "multi"
  procs = [subprocess.Popen(
      _train_cmd(multi, synthetic_data_dir) + [
          "--coordinator", f"127.0.0.1:{port}", "--num-processes", "2", "--process-id", str(i)],
      cwd=ROOT, env=_env(2), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
           for i in range(2)]
  outputs = []
  for p in procs:
    out, _ = p.communicate(timeout=900)
    assert p.returncode == 0, out[-3000:]
    outputs.append(out)
  # Both processes end with bitwise the same generator.
  assert _digest(outputs[0]) == _digest(outputs[1])

  # The reference: one process with 4 devices, this one (conftest fakes 4 CPU devices).
  single = tmp_path / "single"
  config = config_utils.apply_overrides(
      config_utils.load_config(os.path.join(ROOT, CONFIG)), _overrides(synthetic_data_dir))
  train.train_and_evaluate(config, str(single))

  # Step 1 sees the same examples, augmentation draws and noise keys on every
  # device; only the order of the cross-process sums differs.
  loss_m, loss_s = _step_losses(multi), _step_losses(single)
  np.testing.assert_allclose(loss_m[1], loss_s[1], rtol=1e-4)
  _, p_multi, step_multi = checkpoint.load_generator(multi)
  _, p_single, step_single = checkpoint.load_generator(single)
  assert step_multi == step_single == STEPS
  diff = np.abs(np.concatenate([np.ravel(a) - np.ravel(b)
                                for a, b in zip(_leaves(p_multi), _leaves(p_single))]))
  # Adam turns rounding-level gradient differences on near-zero gradients into
  # steps of opposite sign, so single parameters may differ by up to twice
  # Adam's largest possible total move; on average they agree far closer than
  # runs on different data would (those differ by ~lr per step on most parameters).
  lr = 2e-4
  assert diff.max() <= 2 * lr * sum(_adam_step_bound(0.5, 0.999, t) for t in range(1, STEPS + 1))
  assert diff.mean() < 0.2 * lr * STEPS


def _adam_step_bound(b1, b2, t):
  """The largest |m_hat| / sqrt(v_hat) of Adam's step t over all gradient histories.

  m_hat = sum_i w_i g_i and v_hat = sum_i u_i g_i^2, so by Cauchy-Schwarz the
  ratio is at most sqrt(sum_i w_i^2 / u_i): 1 at t = 1, 1.05 at t = 2, 1.13 at
  t = 3 for (0.5, 0.999). It exceeds 1 when the gradient grows.
  """
  i = np.arange(1, t + 1)
  w = (1 - b1) * b1 ** (t - i) / (1 - b1 ** t)
  u = (1 - b2) * b2 ** (t - i) / (1 - b2 ** t)
  return float(np.sqrt(np.sum(w * w / u)))


def _step_losses(workdir):
  out = {}
  for line in open(workdir / "metrics.jsonl"):
    entry = json.loads(line)
    if "g_loss" in entry:
      out[entry["step"]] = (entry["g_loss"], entry["d_loss"], entry["g_l1"])
  return out


def _leaves(tree):
  import jax  # pylint: disable=g-import-not-at-top
  return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)]
