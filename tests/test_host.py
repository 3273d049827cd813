"""CPU host tuning: applied once before JAX starts, re-executing the command at most once."""

import os
import subprocess
import sys

from jaxcolor import host

_SCRIPT = """
import os, sys
with open(sys.argv[1], "a") as f:
  f.write("start\\n")
from jaxcolor import host
print(host.tune_cpu_host(restart=True))
"""


def _run(tmp_path, **env):
  starts = tmp_path / "starts.txt"
  base = {k: v for k, v in os.environ.items()
          if k not in ("GLIBC_TUNABLES", "XLA_FLAGS", host.OFF_VARIABLE, "JAXCOLOR_HOST_TUNED")}
  proc = subprocess.run([sys.executable, "-c", _SCRIPT, str(starts)], capture_output=True,
                        text=True, env={**base, "JAX_PLATFORMS": "cpu", **env}, check=True,
                        timeout=120)
  return starts.read_text().count("start"), proc.stdout.strip()


def test_tuning_restarts_once_with_the_malloc_setting_and_the_xla_flags(tmp_path):
  starts, out = _run(tmp_path)
  assert starts == 2
  assert host.CPU_XLA_FLAGS[0] in out and host.MALLOC_TUNABLES in out


def test_tuning_can_be_turned_off(tmp_path):
  assert _run(tmp_path, **{host.OFF_VARIABLE: "0"}) == (1, "[]")


def test_tuning_leaves_accelerator_hosts_alone(tmp_path):
  assert _run(tmp_path, JAX_PLATFORMS="cuda") == (1, "[]")


def test_tuning_keeps_the_users_glibc_tunables(tmp_path):
  starts, out = _run(tmp_path, GLIBC_TUNABLES="glibc.malloc.arena_max=2")
  assert starts == 1 and host.CPU_XLA_FLAGS[0] in out and "GLIBC" not in out


_CACHE_SCRIPT = """
import jax
from jaxcolor import host
print(host.use_compile_cache())
print(jax.config.jax_compilation_cache_dir, jax.config.jax_enable_compilation_cache)
"""


def _cache_choice(tmp_path, **env):
  base = {k: v for k, v in os.environ.items()
          if k not in ("JAX_COMPILATION_CACHE_DIR", host.CACHE_VARIABLE)}
  proc = subprocess.run([sys.executable, "-c", _CACHE_SCRIPT], capture_output=True, text=True,
                        env={**base, "JAX_PLATFORMS": "cpu", "XDG_CACHE_HOME": str(tmp_path),
                             **env}, check=True, timeout=120)
  returned, config = proc.stdout.strip().splitlines()
  return returned, config, proc.stderr


def test_compile_cache_defaults_to_the_users_cache_folder(tmp_path):
  folder = tmp_path / "jaxcolor" / "xla"
  assert _cache_choice(tmp_path)[:2] == (str(folder), f"{folder} True")
  assert folder.is_dir()


def test_compile_cache_folder_can_be_chosen_and_jaxs_own_setting_is_kept(tmp_path):
  mine, jaxs = tmp_path / "mine", tmp_path / "jaxs"
  assert _cache_choice(tmp_path, **{host.CACHE_VARIABLE: str(mine)})[0] == str(mine)
  assert _cache_choice(tmp_path, JAX_COMPILATION_CACHE_DIR=str(jaxs))[0] == str(jaxs)


def test_compile_cache_off_or_unwritable_turns_it_off_without_failing(tmp_path):
  assert _cache_choice(tmp_path, **{host.CACHE_VARIABLE: "0"})[:2] == ("None", "None False")
  blocker = tmp_path / "a_file"
  blocker.write_text("")
  returned, config, err = _cache_choice(tmp_path, **{host.CACHE_VARIABLE: str(blocker / "x")})
  assert (returned, config.split()[-1]) == ("None", "False")
  assert err.count("warning: compile cache off") == 1 and str(blocker / "x") in err
