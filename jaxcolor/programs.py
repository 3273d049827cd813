"""Compiled programs kept on disk, so that a later command skips tracing the model.

JAX's persistent compilation cache (`host.use_compile_cache`) saves the compiling, but a
command still traces and lowers the generator to find its entry, then loads it: about 2 s
of an 8 s `jaxcolor colorize` on the 2-core CPU (README, "Compile cache"). Here the compiled
executable itself is kept under a key made of everything that decides it, and loaded
without tracing:

  folder = programs.folder()                     # None when the compile cache is off
  key = programs.key(model_config, params, shapes, ...)
  fn = programs.load(folder, key)                # a jax.stages.Compiled, or None
  if fn is None:
    fn = programs.compile_and_keep(jax.jit(f).lower(...), folder, key)

The key holds the source of the whole jaxcolor package (any edit makes new keys), the
JAX, jaxlib and Flax versions, XLA_FLAGS, the device and the CPU's instruction-set flags (an
executable compiled for one CPU may not run on another), and what the caller adds (the
model's config, its parameter shapes, the input shapes). A program is written only when
XLA compiled it in this process: one that JAX's cache served cannot be serialized again
(XLA:CPU drops its code; it fails when run). Files that cannot be read, loaded or run are
deleted and compiled again; a command never fails for this folder. At most `MAX_KEPT`
programs stay, the least recently used deleted first.
"""

import hashlib
import os
import pathlib
import pickle
import platform
import sys
import tempfile

SUBFOLDER = "jaxcolor-programs"
SUFFIX = ".program"
# Programs kept at most (2-3 MB each for the bundled models); the least recently used go
# first. Every edit of the package makes new keys, so without a bound a developer's folder
# would grow by a program per shape per edit.
MAX_KEPT = 48
_CACHE_HIT_EVENT = "/jax/compilation_cache/cache_hits"
_PACKAGE = pathlib.Path(__file__).resolve().parent


def folder() -> str | None:
  """Where programs are kept: a subfolder of JAX's persistent compilation cache, which
  `host.use_compile_cache` turns on for every command; None when it is off."""
  import jax  # pylint: disable=g-import-not-at-top
  cache = jax.config.jax_compilation_cache_dir
  if not jax.config.jax_enable_compilation_cache or not cache:
    return None
  return os.path.join(cache, SUBFOLDER)


def source_digest(package=_PACKAGE) -> str:
  """sha256 of every .py file of the package, in path order."""
  h = hashlib.sha256()
  for path in sorted(pathlib.Path(package).rglob("*.py")):
    h.update(str(path.relative_to(package)).encode())
    h.update(path.read_bytes())
  return h.hexdigest()


def _cpu_flags() -> str:
  try:
    with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
      for line in f:
        if line.startswith(("flags", "Features")):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor()


def environment() -> list:
  """What decides an executable besides the program: versions, flags, device, CPU."""
  import flax  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  import jaxlib  # pylint: disable=g-import-not-at-top
  device = jax.devices()[0]
  # Flax too: its layers are traced into the program as much as the package's own code.
  return [jax.__version__, jaxlib.__version__, flax.__version__, sys.version,
          os.environ.get("XLA_FLAGS", ""),
          device.platform, device.device_kind, jax.device_count(), platform.machine(),
          _cpu_flags(), jax.config.jax_enable_x64, jax.config.jax_default_matmul_precision]


def key(*parts, source=None) -> str:
  """Hex key of a program: `parts` (their repr must say everything about the program that
  the source does not), the package's source (`source_digest` unless given) and
  `environment()`."""
  text = repr([source or source_digest(), environment(), *parts])
  return hashlib.sha256(text.encode()).hexdigest()


def _path(where, name):
  return os.path.join(where, name + SUFFIX)


def load(where, name):
  """The compiled program kept under key `name`, or None (missing or unusable: deleted)."""
  if not where:
    return None
  path = _path(where, name)
  try:
    with open(path, "rb") as f:
      blob = f.read()
  except OSError:
    return None
  from jax.experimental import serialize_executable  # pylint: disable=g-import-not-at-top
  try:
    payload, in_tree, out_tree = pickle.loads(blob)
    program = serialize_executable.deserialize_and_load(payload, in_tree, out_tree)
  except Exception:  # pylint: disable=broad-except
    # Written by another jaxcolor or jaxlib, or cut short: compile it again.
    forget(where, name)
    return None
  try:
    os.utime(path)  # recently used: the last to be pruned
  except OSError:
    pass
  return program


def forget(where, name):
  """Deletes the program kept under `name`, if any."""
  if where:
    try:
      os.remove(_path(where, name))
    except OSError:
      pass


def compile_noting_hits(lowered):
  """(`lowered.compile()`, whether JAX's persistent cache served it rather than XLA)."""
  import jax  # pylint: disable=g-import-not-at-top
  hits = []

  def listener(event, **_):
    if event == _CACHE_HIT_EVENT:
      hits.append(event)

  jax.monitoring.register_event_listener(listener)
  try:
    compiled = lowered.compile()
  finally:
    jax.monitoring.unregister_event_listener(listener)
  return compiled, bool(hits)


def compile_and_keep(lowered, where, name):
  """`lowered.compile()`; the executable is also written under `name` when XLA compiled
  it here (not when JAX's persistent cache served it) and `where` is writable."""
  compiled, served = compile_noting_hits(lowered)
  if where and not served:
    _write(compiled, where, name)
  return compiled


def _write(compiled, where, name):
  from jax.experimental import serialize_executable  # pylint: disable=g-import-not-at-top
  try:
    blob = pickle.dumps(serialize_executable.serialize(compiled))
  except Exception:  # pylint: disable=broad-except
    return  # a program XLA cannot serialize is simply not kept
  try:
    os.makedirs(where, exist_ok=True)
    # Written whole or not at all: a reader never sees half a file.
    fd, tmp = tempfile.mkstemp(dir=where, suffix=".tmp")
  except OSError:
    return
  try:
    with os.fdopen(fd, "wb") as f:
      f.write(blob)
    os.replace(tmp, _path(where, name))
  except OSError:
    try:
      os.remove(tmp)
    except OSError:
      pass
    return
  prune(where)


def prune(where, keep=MAX_KEPT):
  """Deletes all but the `keep` most recently used programs in `where`."""
  try:
    found = [e for e in os.scandir(where) if e.name.endswith(SUFFIX)]
    found.sort(key=lambda e: e.stat().st_mtime, reverse=True)
  except OSError:
    return
  for entry in found[keep:]:
    try:
      os.remove(entry.path)
    except OSError:
      pass
