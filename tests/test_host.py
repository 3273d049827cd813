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
