"""Compiled programs kept on disk (jaxcolor/programs.py): found again without tracing,
the same results, and never a failure because of a bad file."""

import json
import os
import subprocess
import sys

import numpy as np

from conftest import ROOT, config_module
from jaxcolor import infer
from jaxcolor import models
from jaxcolor import programs

tiny = config_module("tiny")

# One Colorizer forward in a fresh process, as a command runs it: the compile cache (and
# the programs in it) in the folder argv[1]; the result to argv[2].
_COLORIZE = """
import json, os, sys
import numpy as np
from jaxcolor import config_utils, host, infer, models, programs
host.use_compile_cache()
cfg = config_utils.load_module(os.path.join(sys.argv[3], "configs", "tiny.py")).get_config("palette")
loaded = []
load = programs.load
programs.load = lambda *a: loaded.append(load(*a)) or loaded[-1]
c = infer.Colorizer(cfg, models.init_generator(cfg.model, 0, 64))
rng = np.random.default_rng(0)
sketch = rng.uniform(-1, 1, (1, 48, 40, 1)).astype(np.float32)
hint = rng.uniform(-1, 1, (1, 9, 3)).astype(np.float32)
np.save(sys.argv[2], c.colorize_batch(sketch, hint))
print(json.dumps({"loaded": [x is not None for x in loaded]}))
"""


def _kept(cache):
  where = os.path.join(cache, programs.SUBFOLDER)
  return sorted(os.listdir(where)) if os.path.isdir(where) else []


def _colorize(cache, out):
  env = dict(os.environ, JAXCOLOR_COMPILE_CACHE=str(cache))
  proc = subprocess.run([sys.executable, "-c", _COLORIZE, str(cache), str(out), ROOT],
                        env=env, capture_output=True, text=True, check=False, cwd=ROOT)
  assert proc.returncode == 0, proc.stderr[-2000:]
  return json.loads(proc.stdout.strip().splitlines()[-1])["loaded"], np.load(out)


def test_a_later_command_loads_the_program_and_gets_the_same_result(tmp_path):
  cache = tmp_path / "cache"
  loaded, first = _colorize(cache, tmp_path / "first.npy")
  assert loaded == [False]
  kept = _kept(cache)
  assert len(kept) == 1 and kept[0].endswith(programs.SUFFIX)

  loaded, second = _colorize(cache, tmp_path / "second.npy")
  assert loaded == [True]
  np.testing.assert_array_equal(second, first)

  # A damaged file: deleted, the program traced and compiled again, the same result. (JAX's
  # own cache serves that compile, and such an executable is not kept: see programs.py.)
  (cache / programs.SUBFOLDER / kept[0]).write_bytes(b"not a program")
  loaded, third = _colorize(cache, tmp_path / "third.npy")
  assert loaded == [False]
  np.testing.assert_array_equal(third, first)
  assert _kept(cache) == []


def test_a_kept_program_that_fails_to_run_is_forgotten_and_compiled_again(tmp_path, monkeypatch):
  cfg = tiny.get_config("palette")
  params = models.init_generator(cfg.model, 0, 64)
  rng = np.random.default_rng(0)
  sketch = rng.uniform(-1, 1, (1, 24, 32, 1)).astype(np.float32)
  hint = rng.uniform(-1, 1, (1, 9, 3)).astype(np.float32)
  monkeypatch.setattr(programs, "folder", lambda: None)
  want = infer.Colorizer(cfg, params).colorize_batch(sketch, hint)

  def broken(*_):
    raise ValueError("kept by another build")

  forgotten = []
  monkeypatch.setattr(programs, "folder", lambda: str(tmp_path))
  monkeypatch.setattr(programs, "load", lambda where, name: broken)
  monkeypatch.setattr(programs, "forget", lambda where, name: forgotten.append(name))
  got = infer.Colorizer(cfg, params).colorize_batch(sketch, hint)
  assert len(forgotten) == 1
  np.testing.assert_array_equal(got, want)


def test_the_key_names_every_part_and_the_source():
  base = programs.key("model", (1, 64, 64, 1), source="a")
  assert base == programs.key("model", (1, 64, 64, 1), source="a")
  assert base != programs.key("model", (1, 64, 72, 1), source="a")
  assert base != programs.key("model", (1, 64, 64, 1), source="b")
  assert len(programs.source_digest()) == 64


def test_no_folder_when_the_compile_cache_is_off():
  import jax  # pylint: disable=g-import-not-at-top
  was = jax.config.jax_enable_compilation_cache
  jax.config.update("jax_enable_compilation_cache", False)
  try:
    assert programs.folder() is None
  finally:
    jax.config.update("jax_enable_compilation_cache", was)
  assert programs.load(None, "anything") is None


def test_only_the_most_recently_used_programs_are_kept(tmp_path):
  for i, name in enumerate("abcd"):
    path = tmp_path / (name + programs.SUFFIX)
    path.write_bytes(b"x")
    os.utime(path, (1000 + i, 1000 + i))
  os.utime(tmp_path / ("a" + programs.SUFFIX), (2000, 2000))  # used again lately
  (tmp_path / "other.file").write_bytes(b"not ours")
  programs.prune(str(tmp_path), keep=2)
  assert sorted(p.name for p in tmp_path.iterdir()) == ["a.program", "d.program", "other.file"]
