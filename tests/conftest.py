"""Test set-up: four fake CPU devices, set before jax is imported anywhere."""

import os

os.environ.setdefault("JAX_NUM_CPU_DEVICES", "4")
if "--xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
  os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                             " --xla_force_host_platform_device_count=4").strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Runs of the same tiny models recompile identical programs (each
# train_and_evaluate builds its own pmap); the persistent cache turns the
# repeats, also in CLI subprocesses, into loads.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", os.path.join(ROOT, ".pytest_cache", "jax"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import pytest  # pylint: disable=g-import-not-at-top,wrong-import-position


@pytest.fixture(scope="session")
def synthetic_data_dir(tmp_path_factory):
  """A small synthetic_cels build shared by the training, inference and CLI tests."""
  from jaxcolor.data import builders  # pylint: disable=g-import-not-at-top
  data_dir = tmp_path_factory.mktemp("datasets")
  builders.build_dataset("synthetic_cels", data_dir, **SYNTHETIC_SIZES)
  return data_dir


SYNTHETIC_SIZES = {"num_train": 32, "num_val": 8}


def config_module(name):
  """configs/<name>.py as a module, loaded from its path as the CLI loads it."""
  from jaxcolor import config_utils  # pylint: disable=g-import-not-at-top
  return config_utils.load_module(os.path.join(ROOT, "configs", name + ".py"))


def micro_config(data_dir, family="palette", steps=4):
  """configs/micro.py for tests: few steps, every periodic action exercised.

  Runs that differ only in seed, steps or workdir share one compiled train step
  (the seed's key is an argument of the step) through JAX's persistent cache.
  """
  c = config_module("micro").get_config(family)
  c.num_train_steps = steps
  c.per_device_batch_size = 2
  c.log_every_steps = 1
  c.sample_every_steps = 2
  c.eval_every_steps = 2
  c.checkpoint_every_steps = 2
  c.num_eval_examples = 8
  c.progress_bar = False
  c.data.data_dir = str(data_dir)
  c.data.builder_kwargs.num_train = SYNTHETIC_SIZES["num_train"]
  c.data.builder_kwargs.num_val = SYNTHETIC_SIZES["num_val"]
  return c


@pytest.fixture(scope="session")
def trained_run(synthetic_data_dir, tmp_path_factory):
  """The micro palette model trained 4 steps (checkpoints at 2 and 4): (workdir, result)."""
  from jaxcolor import train  # pylint: disable=g-import-not-at-top
  workdir = tmp_path_factory.mktemp("trained")
  result = train.train_and_evaluate(micro_config(synthetic_data_dir), str(workdir))
  return workdir, result


def generator_of(workdir):
  """(step, generator params as numpy) of a training run's latest checkpoint."""
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from jaxcolor import checkpoint  # pylint: disable=g-import-not-at-top
  _, params, step = checkpoint.load_generator(workdir)
  return step, jax.tree_util.tree_map(np.asarray, params)


def assert_bitwise_equal(a, b):
  import jax  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  jax.tree_util.tree_map(np.testing.assert_array_equal, a, b)


def check_recorded_digest(name, digest):
  """The digest recorded before the trainer was restructured, where it can be compared.

  XLA:CPU may round differently on another jaxlib or another instruction set,
  so elsewhere the comparison cannot be made and the test says so.
  """
  import json  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  import jaxlib  # pylint: disable=g-import-not-at-top
  with open(os.path.join(ROOT, "tests", "recorded_hashes.json")) as f:
    recorded = json.load(f)
  machine = recorded["recorded_with"]
  flags = set(open("/proc/cpuinfo").read().split()) if os.path.exists("/proc/cpuinfo") else set()
  if (jax.__version__, jaxlib.__version__) != (machine["jax"], machine["jaxlib"]) or not (
      set(machine["cpu_flags"]) <= flags):
    pytest.skip(f"recorded with jax {machine['jax']} on a CPU with {machine['cpu_flags']}")
  assert digest == recorded[name]
