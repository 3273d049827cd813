"""Process settings applied by the `jaxcolor` command: XLA:CPU tuning and the compile cache.

The two CPU settings only matter on a host without an accelerator, and both
must be in place before JAX starts its backends (XLA flags) or before the
process starts (glibc tunables), so the CLI applies them first thing;
`JAXCOLOR_HOST_TUNING=0` (or `jaxcolor bench --no-host-tuning`) leaves the
process as it is. Measured effects are in docs/BENCHMARKS.md.

- `CPU_XLA_FLAGS`: YNNPACK's convolution fusions (on by default in jaxlib 0.10)
  compute weight gradients 1.5-2.3x slower than XLA's Eigen convolutions.
- `MALLOC_TUNABLES`: XLA:CPU allocates each execution's temporaries (about
  2 GB for the palette train step at 256x256) with malloc, which maps them
  afresh every step; with transparent huge pages (2 MiB rather than 4 KiB)
  the kernel faults them in far fewer pieces.

`use_compile_cache` turns on JAX's persistent compilation cache on every
platform: a command that compiles a program an earlier command compiled loads
it from disk (the palette train step: 50 s to compile, 13 s to trace and load).
"""

import importlib.util
import os
import sys
import tempfile

CPU_XLA_FLAGS = ("--xla_cpu_experimental_ynn_fusion_type=",)
MALLOC_TUNABLES = "glibc.malloc.hugetlb=1"
OFF_VARIABLE = "JAXCOLOR_HOST_TUNING"
CACHE_VARIABLE = "JAXCOLOR_COMPILE_CACHE"
_REEXEC_MARK = "JAXCOLOR_HOST_TUNED"
_ACCELERATOR_MODULES = ("jax_cuda12_plugin", "jax_cuda13_plugin", "jax_rocm60_plugin",
                        "jax_rocm7_plugin", "libtpu")


def accelerator_possible() -> bool:
  """Whether JAX might pick a GPU or TPU (by JAX_PLATFORMS or an installed plugin)."""
  platforms = os.environ.get("JAX_PLATFORMS", "").lower()
  if platforms:
    return any(p.strip() not in ("", "cpu") for p in platforms.split(","))
  return any(importlib.util.find_spec(m) is not None for m in _ACCELERATOR_MODULES)


def _jax_imported() -> bool:
  # JAX has no public "backends started?" query; once it is imported, a
  # library may have started them, and then new XLA flags would be ignored.
  return "jax" in sys.modules


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
  it before any work is done. Does nothing if turned off, if JAX is already
  imported or if an accelerator may be used.
  """
  if (os.environ.get(OFF_VARIABLE, "1") == "0" or _jax_imported() or
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


def default_cache_dir() -> str:
  base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
  return os.path.join(base, "jaxcolor", "xla")


def use_compile_cache() -> str | None:
  """Turns on JAX's persistent compilation cache; returns its folder, or None if off.

  The folder is $JAXCOLOR_COMPILE_CACHE, else one chosen for JAX already
  ($JAX_COMPILATION_CACHE_DIR), else `default_cache_dir()`.
  `JAXCOLOR_COMPILE_CACHE=0` turns the cache off. A folder that cannot be
  written turns it off with a warning: a command never fails for its cache.
  Call before the first compilation; JAX opens the cache then.
  """
  import jax  # pylint: disable=g-import-not-at-top
  setting = os.environ.get(CACHE_VARIABLE, "").strip()
  if setting == "0":
    jax.config.update("jax_enable_compilation_cache", False)
    return None
  path = (os.path.abspath(os.path.expanduser(setting)) if setting else
          jax.config.jax_compilation_cache_dir or default_cache_dir())
  try:
    os.makedirs(path, exist_ok=True)
    with tempfile.TemporaryFile(dir=path):
      pass
  except OSError as e:
    print(f"warning: compile cache off: cannot write {path} ({e.strerror or e}); "
          f"set {CACHE_VARIABLE}=DIR to move it", file=sys.stderr)
    jax.config.update("jax_enable_compilation_cache", False)
    return None
  jax.config.update("jax_compilation_cache_dir", path)
  return path
