"""Orbax checkpoints: WORKDIR/checkpoints/<step>/{generator,discriminator,train,data}.

Items:
  generator      generator parameters: all that inference restores
  discriminator  discriminator parameters and spectral-norm vectors
  train          step, both optimiser states, the per-device image pool
  data           the grain iterator position, one file per process

Arrays are saved as global jax.Arrays over a 1-D mesh of all devices:
parameters and optimiser states fully replicated (written once), the image
pool sharded (each device keeps its own pool), so each process writes its own
part. Saves are asynchronous and atomic (orbax writes to a temporary folder
and renames it when complete). The latest `keep_checkpoints` steps are kept,
plus the best by validation PSNR.

Restoring the generator with plain orbax, without this package:

  import orbax.checkpoint as ocp
  mngr = ocp.CheckpointManager("WORKDIR/checkpoints", item_names=("generator",))
  params = mngr.restore(mngr.latest_step(), args=ocp.args.Composite(
      generator=ocp.args.StandardRestore(abstract_params)))["generator"]

where `abstract_params = models.generator_shapes(config.model, config.image_size)`,
optionally with a `sharding` on each leaf.
"""

import json
import os

import grain
import jax
import numpy as np
import orbax.checkpoint as ocp
from orbax.checkpoint import checkpoint_managers as policies

from jaxcolor import config_utils
from jaxcolor import devices
from jaxcolor.errors import UserError

ITEMS = ("generator", "discriminator", "train", "data")
BEST_METRIC = "val_psnr"


def _best_metric(metrics):
  return metrics[BEST_METRIC]


def make_manager(workdir: str, config, *, read_only: bool = False) -> ocp.CheckpointManager:
  keep = max(int(config.keep_checkpoints), 1) if config is not None else 1
  policy = policies.AnyPreservationPolicy([
      policies.LatestN(n=keep),
      policies.BestN(get_metric_fn=_best_metric, reverse=False, n=1,
                     keep_checkpoints_without_metrics=False),
  ])
  options = ocp.CheckpointManagerOptions(
      preservation_policy=policy, best_fn=_best_metric, best_mode="max",
      enable_async_checkpointing=True, create=not read_only, read_only=read_only)
  handlers = {name: ocp.StandardCheckpointHandler() for name in ITEMS[:3]}
  handlers["data"] = grain.checkpoint.CheckpointHandler()
  return ocp.CheckpointManager(os.path.join(workdir, "checkpoints"), item_names=ITEMS,
                               item_handlers=handlers, options=options)


# --------------------------------------------------------------------------
# TrainState <-> checkpoint items: the one place that knows both layouts.


def _state_items(state):
  """Item name -> (tree, sharded) for a TrainState-shaped value (pmapped or host)."""
  items = {
      "generator": (state.g_params, False),
      "discriminator": ({"params": state.d_params, "spectral": state.spectral}, False),
      "train": ({"step": state.step, "g_opt": state.g_opt_state, "d_opt": state.d_opt_state},
                False),
  }
  if np.size(state.pool_images):  # orbax refuses zero-size arrays: no pool, nothing to save
    items["pool"] = ({"images": state.pool_images, "count": state.pool_count}, True)
  return items


def _state_from_items(template, items):
  """The inverse of `_state_items`: a `template`-shaped state from per-item trees."""
  return template.replace(
      step=items["train"]["step"], g_params=items["generator"],
      d_params=items["discriminator"]["params"], spectral=items["discriminator"]["spectral"],
      g_opt_state=items["train"]["g_opt"], d_opt_state=items["train"]["d_opt"],
      pool_images=items["pool"]["images"], pool_count=items["pool"]["count"])


def _orbax_items(state, convert):
  """`convert(leaf, sharded)` over every item; the pool is stored inside "train"."""
  out = {name: jax.tree_util.tree_map(lambda x, s=sharded: convert(x, s), tree)
         for name, (tree, sharded) in _state_items(state).items()}
  if "pool" in out:
    out["train"] = dict(out["train"], pool=out.pop("pool"))
  return out


def save_train_state(manager, step: int, state, data_iter, metrics=None):
  """Saves a pmapped TrainState (asynchronously) and the data iterator position."""
  items = _orbax_items(state, devices.to_global)
  args = {name: ocp.args.StandardSave(tree) for name, tree in items.items()}
  args["data"] = grain.checkpoint.CheckpointSave(data_iter)
  clean = None if metrics is None else {k: float(v) for k, v in metrics.items()}
  manager.save(step, args=ocp.args.Composite(**args), metrics=clean)


def restore_train_state(manager, template, data_iter, step=None):
  """Restores into the layout of host-side `template`; returns (pmapped state, step)."""
  step = manager.latest_step() if step is None else step
  abstract = _orbax_items(template, devices.global_shape)
  args = {name: ocp.args.StandardRestore(tree) for name, tree in abstract.items()}
  args["data"] = grain.checkpoint.CheckpointRestore(data_iter)
  try:
    restored = manager.restore(step, args=ocp.args.Composite(**args))
  except (ValueError, KeyError, TypeError) as e:
    raise UserError(f"checkpoint {manager.directory}/{step} does not match this config "
                    f"(change the workdir or the config): {_first_line(e)}") from e
  pool = restored["train"].pop("pool", None)
  local = {name: jax.tree_util.tree_map(lambda x: devices.from_global(x, False), restored[name])
           for name in ("generator", "discriminator", "train")}
  if pool is None:  # no pool in this config: the template's (empty) one on every device
    local["pool"] = devices.host_copies(
        {"images": template.pool_images, "count": template.pool_count})
  else:
    local["pool"] = jax.tree_util.tree_map(lambda x: devices.from_global(x, True), pool)
  return devices.to_devices(_state_from_items(template, local)), int(step)


def _first_line(e):
  text = str(e).strip().splitlines()
  return text[0][:300] if text else type(e).__name__


# --------------------------------------------------------------------------
# Inference: the generator alone.


def resolve(path):
  """(workdir, step or None) for a workdir, its checkpoints/ folder or a step folder."""
  path = os.path.abspath(os.path.expanduser(str(path)))
  if not os.path.exists(path):
    raise UserError(f"checkpoint not found: {path}")
  if os.path.isfile(os.path.join(path, "config.json")):
    return path, None
  if os.path.basename(path) == "checkpoints":
    return os.path.dirname(path), None
  parent = os.path.dirname(path)
  if os.path.basename(parent) == "checkpoints" and os.path.basename(path).isdigit():
    return os.path.dirname(parent), int(os.path.basename(path))
  raise UserError(f"{path} is not a training workdir (expected config.json and "
                  f"checkpoints/) nor a checkpoints/<step> folder")


def load_config(workdir: str):
  path = os.path.join(workdir, "config.json")
  try:
    with open(path) as f:
      return config_utils.from_json(f.read())
  except (OSError, json.JSONDecodeError) as e:
    raise UserError(f"{path}: cannot read the training config: {e}") from e


def load_generator(path, step=None, which: str = "latest"):
  """(config, generator params on the default device, step) from a training run."""
  workdir, path_step = resolve(path)
  config = load_config(workdir)
  step = step if step is not None else path_step
  ckdir = os.path.join(workdir, "checkpoints")
  if not os.path.isdir(ckdir):
    raise UserError(f"{workdir} has no checkpoints/ folder: train first")
  manager = ocp.CheckpointManager(
      ckdir, item_names=("generator",),
      item_handlers={"generator": ocp.StandardCheckpointHandler()},
      options=ocp.CheckpointManagerOptions(read_only=True, best_fn=_best_metric,
                                           best_mode="max"))
  try:
    steps = manager.all_steps()
    if not steps:
      raise UserError(f"{ckdir} holds no finished checkpoint")
    if step is None:
      if which not in ("latest", "best"):
        raise UserError(f"which must be 'latest' or 'best', not {which!r}")
      step = manager.best_step() if which == "best" else manager.latest_step()
    if step not in steps:
      raise UserError(f"no checkpoint for step {step} in {ckdir}; available: "
                      f"{', '.join(map(str, sorted(steps)))}")
    sharding = jax.sharding.SingleDeviceSharding(jax.devices()[0])
    try:
      # Shapes from the checkpoint's own metadata: tracing the model for them
      # costs 1-2 s per command. The model checks them when it first runs
      # (`infer.Colorizer`).
      saved = manager.item_metadata(step)["generator"].tree
      abstract = jax.tree_util.tree_map(
          lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=sharding), saved)
      restored = manager.restore(step, args=ocp.args.Composite(
          generator=ocp.args.StandardRestore(abstract)))
    except (ValueError, KeyError, TypeError, AttributeError, FileNotFoundError) as e:
      raise UserError(f"checkpoint {ckdir}/{step}: cannot read the generator: "
                      f"{_first_line(e)}") from e
  finally:
    manager.close()
  return config, restored["generator"], int(step)
