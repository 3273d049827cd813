"""The models that ship inside the package: export from a training run, load by name.

Each bundled model is the generator's parameters only, stored as float16 in one .npz
(half the bytes of float32; the model computes in float32 after loading), beside the
training config as JSON, in jaxcolor/weights/<folder>/. `MODELS` names them:
"palette" (configs/starter.py, `make starter`) and "reference" (configs/reference_starter.py,
`make reference-starter`); `DEFAULT_MODEL` is the one every command uses without
--checkpoint or --model.
"""

from __future__ import annotations

import json
import os
import pathlib
import tempfile
import zipfile

import numpy as np

from jaxcolor import config_utils
from jaxcolor import defaults
from jaxcolor.errors import UserError

WEIGHTS_ROOT = pathlib.Path(__file__).resolve().parent / "weights"
# Bundled model name -> its folder under WEIGHTS_ROOT.
MODELS = {"palette": "starter", "reference": "reference"}
DEFAULT_MODEL = defaults.DEFAULT_MODEL
PARAMS_FILE = "params.npz"
CONFIG_FILE = "config.json"
INFO_FILE = "info.json"
SOURCE = "the starter model"


def weights_dir(model: str | None = None) -> pathlib.Path:
  """The folder of bundled model `model` (None: the default one)."""
  name = model or DEFAULT_MODEL
  if name not in MODELS:
    raise UserError(f"unknown bundled model {name!r}: choose one of {', '.join(MODELS)}")
  return WEIGHTS_ROOT / MODELS[name]


def source_name(model: str | None = None) -> str:
  """How messages name a bundled model."""
  return f"{SOURCE} ({model or DEFAULT_MODEL})"
REBUILD = ("rebuild them with `make starter` (palette, about 2 hours on a 2-core CPU) or "
           "`make reference-starter` (reference, about 4 hours)")


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


def export(workdir, out_dir=None, *, step=None, which="latest", extra_info=None) -> dict:
  """Writes the generator of a training run as a bundled model; returns its info.

  out_dir None: the bundled folder of the run's family (a reference-family run must not
  land over the palette starter); info["out_dir"] says where it went.
  """
  from jaxcolor import checkpoint  # pylint: disable=g-import-not-at-top

  config, params, step = checkpoint.load_generator(workdir, step=step, which=which)
  if out_dir is None:
    family = str(config.model.family)
    if family not in MODELS:
      raise UserError(f"no bundled model of the {family} family: pass --out")
    out_dir = weights_dir(family)
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
  return {**info, "out_dir": str(out_dir)}


def load(folder=None):
  """(config, float32 params, step) of a bundled model's folder (None: the default one).

  One-line UserError if missing or corrupt.
  """
  folder = pathlib.Path(folder) if folder is not None else weights_dir()
  params_path, config_path = folder / PARAMS_FILE, folder / CONFIG_FILE
  if not params_path.is_file() or not config_path.is_file():
    raise UserError(f"the starter weights are missing from {folder}: {REBUILD}, "
                    "or give --checkpoint")
  try:
    config = config_utils.from_json(config_path.read_text())
    with np.load(params_path) as npz:
      flat = {k: npz[k].astype(np.float32) for k in npz.files}
    step = json.loads((folder / INFO_FILE).read_text()).get("step", 0) if (
        folder / INFO_FILE).is_file() else 0
  except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as e:
    raise UserError(f"the starter weights in {folder} are corrupt "
                    f"({type(e).__name__}): {REBUILD}") from None
  if not flat or not all(np.all(np.isfinite(v)) for v in flat.values()):
    raise UserError(f"the starter weights in {folder} are corrupt (empty or not "
                    f"finite): {REBUILD}")
  return config, _unflatten(flat), int(step)
