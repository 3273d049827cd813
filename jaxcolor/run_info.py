"""What a training workdir records about its run: the config and where it ran."""

import json
import os
import platform
import subprocess
import sys
import time

import jax

from jaxcolor import config_utils

_PACKAGES = ("jax", "jaxlib", "flax", "optax", "orbax-checkpoint", "grain", "numpy",
             "tensorflow-datasets", "scikit-learn", "pillow", "ml-collections")


def git_commit():
  """HEAD of the checkout this package runs from (+dirty if changed), or None."""
  try:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True,
                         text=True, timeout=5, check=False)
    dirty = subprocess.run(["git", "-C", root, "status", "--porcelain"], capture_output=True,
                           text=True, timeout=5, check=False)
    return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "") or None
  except (OSError, subprocess.SubprocessError):
    return None


def write(config, workdir):
  """WORKDIR/config.json (what inference reloads) and WORKDIR/run_info.json."""
  from importlib import metadata  # pylint: disable=g-import-not-at-top
  versions = {}
  for pkg in _PACKAGES:
    try:
      versions[pkg] = metadata.version(pkg)
    except metadata.PackageNotFoundError:
      versions[pkg] = None
  info = {"seed": config.seed, "git_commit": git_commit(), "python": sys.version.split()[0],
          "platform": platform.platform(), "packages": versions,
          "devices": [str(d) for d in jax.devices()], "process_count": jax.process_count(),
          "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
  os.makedirs(workdir, exist_ok=True)
  with open(os.path.join(workdir, "config.json"), "w") as f:
    f.write(config_utils.to_json(config))
  with open(os.path.join(workdir, "run_info.json"), "w") as f:
    json.dump(info, f, indent=2)
