"""The starter model that ships inside the package: export from a training run, load.

The weights are the generator's parameters only, stored as float16 in one .npz
(half the bytes of float32; the model computes in float32 after loading), beside
the training config as JSON. `make starter` rebuilds them from nothing:
fetch and render the data, build it, train configs/starter.py, export.
"""

from __future__ import annotations

import json
import os
import pathlib
import tempfile
import zipfile

import numpy as np

from jaxcolor import config_utils
from jaxcolor.errors import UserError

WEIGHTS_DIR = pathlib.Path(__file__).resolve().parent / "weights" / "starter"
PARAMS_FILE = "params.npz"
CONFIG_FILE = "config.json"
INFO_FILE = "info.json"
SOURCE = "the starter model"
REBUILD = "rebuild them with `make starter` (about 2 hours on a 2-core CPU)"


def _flatten(tree, prefix=()):
  for key, value in tree.items():
    if isinstance(value, dict):
      yield from _flatten(value, prefix + (key,))
    else:
      yield "/".join(prefix + (key,)), value


def _unflatten(flat):
  tree = {}
  for path, value in flat.items():
    node = tree
    *parents, leaf = path.split("/")
    for p in parents:
      node = node.setdefault(p, {})
    node[leaf] = value
  return tree


def export(workdir, out_dir=WEIGHTS_DIR, *, step=None, which="latest", extra_info=None) -> dict:
  """Writes the generator of a training run as the starter; returns its info."""
  from jaxcolor import checkpoint  # pylint: disable=g-import-not-at-top

  config, params, step = checkpoint.load_generator(workdir, step=step, which=which)
  flat = {k: np.asarray(v, np.float32) for k, v in _flatten(params)}
  big = max(float(np.max(np.abs(v))) for v in flat.values())
  if big > 6e4:
    raise UserError(f"a parameter of {big:g} does not fit float16")
  out_dir = pathlib.Path(out_dir)
  out_dir.mkdir(parents=True, exist_ok=True)
  # Written to temporary names first: a failed export leaves the old weights whole.
  fd, tmp = tempfile.mkstemp(suffix=".npz", dir=out_dir)
  os.close(fd)
  os.chmod(tmp, 0o644)  # mkstemp's 0600 would ship unreadable to other users
  np.savez_compressed(tmp, **{k: v.astype(np.float16) for k, v in flat.items()})
  info = {"step": int(step), "params": int(sum(v.size for v in flat.values())),
          "bytes": os.path.getsize(tmp), **(extra_info or {})}
  (out_dir / (CONFIG_FILE + ".tmp")).write_text(config_utils.to_json(config))
  (out_dir / (INFO_FILE + ".tmp")).write_text(json.dumps(info, indent=2) + "\n")
  os.replace(tmp, out_dir / PARAMS_FILE)
  os.replace(out_dir / (CONFIG_FILE + ".tmp"), out_dir / CONFIG_FILE)
  os.replace(out_dir / (INFO_FILE + ".tmp"), out_dir / INFO_FILE)
  return info


def load(weights_dir=WEIGHTS_DIR):
  """(config, float32 params, step) of the starter; one-line UserError if missing or corrupt."""
  weights_dir = pathlib.Path(weights_dir)
  params_path, config_path = weights_dir / PARAMS_FILE, weights_dir / CONFIG_FILE
  if not params_path.is_file() or not config_path.is_file():
    raise UserError(f"the starter weights are missing from {weights_dir}: {REBUILD}, "
                    "or give --checkpoint")
  try:
    config = config_utils.from_json(config_path.read_text())
    with np.load(params_path) as npz:
      flat = {k: npz[k].astype(np.float32) for k in npz.files}
    step = json.loads((weights_dir / INFO_FILE).read_text()).get("step", 0) if (
        weights_dir / INFO_FILE).is_file() else 0
  except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as e:
    raise UserError(f"the starter weights in {weights_dir} are corrupt "
                    f"({type(e).__name__}): {REBUILD}") from None
  if not flat or not all(np.all(np.isfinite(v)) for v in flat.values()):
    raise UserError(f"the starter weights in {weights_dir} are corrupt (empty or not "
                    f"finite): {REBUILD}")
  return config, _unflatten(flat), int(step)
