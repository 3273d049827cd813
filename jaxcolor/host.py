"""Process settings that speed up XLA:CPU, applied by the `jaxcolor` command.

Both only matter on a host without an accelerator, and both must be in place
before JAX starts its backends (XLA flags) or before the process starts (glibc
tunables), so the CLI applies them first thing; `JAXCOLOR_HOST_TUNING=0` (or
`jaxcolor bench --no-host-tuning`) leaves the process as it is. Measured effects
are in docs/BENCHMARKS.md.

- `CPU_XLA_FLAGS`: YNNPACK's convolution fusions (on by default in jaxlib 0.10)
  compute weight gradients 1.5-2.3x slower than XLA's Eigen convolutions.
- `MALLOC_TUNABLES`: XLA:CPU allocates each execution's temporaries (about
  2 GB for the palette train step at 256x256) with malloc, which maps them
  afresh every step; with transparent huge pages (2 MiB rather than 4 KiB)
  the kernel faults them in far fewer pieces.
"""

import importlib.util
import os
import sys

CPU_XLA_FLAGS = ("--xla_cpu_experimental_ynn_fusion_type=",)
MALLOC_TUNABLES = "glibc.malloc.hugetlb=1"
OFF_VARIABLE = "JAXCOLOR_HOST_TUNING"
_REEXEC_MARK = "JAXCOLOR_HOST_TUNED"
_ACCELERATOR_MODULES = ("jax_cuda12_plugin", "jax_cuda13_plugin", "jax_rocm60_plugin",
                        "jax_rocm7_plugin", "libtpu")


def accelerator_possible() -> bool:
  """Whether JAX might pick a GPU or TPU (by JAX_PLATFORMS or an installed plugin)."""
  platforms = os.environ.get("JAX_PLATFORMS", "").lower()
  if platforms:
    return any(p.strip() not in ("", "cpu") for p in platforms.split(","))
  return any(importlib.util.find_spec(m) is not None for m in _ACCELERATOR_MODULES)


def _backends_started() -> bool:
  if "jax" not in sys.modules:
    return False
  from jax._src import xla_bridge  # pylint: disable=g-import-not-at-top
  return xla_bridge.backends_are_initialized()


def applied() -> list[str]:
  """The settings of this list that are in force in this process."""
  out = [f for f in CPU_XLA_FLAGS if f in os.environ.get("XLA_FLAGS", "").split()]
  if MALLOC_TUNABLES in os.environ.get("GLIBC_TUNABLES", ""):
    out.append(f"GLIBC_TUNABLES={MALLOC_TUNABLES}")
  return out


def tune_cpu_host(restart: bool = False) -> list[str]:
  """Applies the settings where they help; returns those in force.

  Adds `CPU_XLA_FLAGS` to $XLA_FLAGS unless $XLA_FLAGS already names them. With
  `restart=True` on Linux, if $GLIBC_TUNABLES is unset, it sets it and
  re-executes the process's own command line (`sys.orig_argv`) once, so call
  it before any work is done. Does nothing if turned off, if JAX's backends
  are already running or if an accelerator may be used.
  """
  if (os.environ.get(OFF_VARIABLE, "1") == "0" or _backends_started() or
      accelerator_possible()):
    return applied()
  flags = os.environ.get("XLA_FLAGS", "")
  for flag in CPU_XLA_FLAGS:
    if flag.split("=")[0] not in flags:
      flags = f"{flags} {flag}".strip()
  os.environ["XLA_FLAGS"] = flags
  if (restart and sys.platform.startswith("linux") and "GLIBC_TUNABLES" not in os.environ
      and _REEXEC_MARK not in os.environ):
    env = dict(os.environ, GLIBC_TUNABLES=MALLOC_TUNABLES, **{_REEXEC_MARK: "1"})
    sys.stdout.flush()
    sys.stderr.flush()
    try:
      os.execve(sys.executable, sys.orig_argv, env)
    except OSError:  # keep running untuned rather than fail
      pass
  return applied()
