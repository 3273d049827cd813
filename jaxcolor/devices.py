"""Where arrays sit for the pmapped steps: one module for the device layout.

The train and eval steps are `jax.pmap`s over the local devices (axis `AXIS`).
Their inputs are host arrays with a leading axis of one entry per local device:
the state and the VGG weights as identical copies (`replicate`), a batch as
its per-device slices (`to_devices`). Outputs come back with `local_values` /
`unreplicate`. Checkpoints hold global `jax.Array`s over a 1-D mesh of all
devices instead (`to_global`, `global_shape`, `from_global`), so that each
process writes and reads its own part. Inside a step, `step_key` gives every
device its own random stream, a pure function of (key, step, device).

The train step, the checkpointer, the benchmark and evaluation all use these,
so what is benchmarked and restored is laid out exactly as what trains.
"""

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

AXIS = "batch"
_MESH_AXIS = "data"


def to_devices(stacked, devices=None):
  """Host arrays shaped (devices, ...) -> device arrays in the pmapped steps' layout.

  Passing through a pmap over the same axis name gives exactly the sharding
  the train step returns, so the step compiles once, not again on its second
  call. `devices` defaults to all local devices.
  """
  return jax.pmap(lambda t: t, axis_name=AXIS, devices=devices)(stacked)


def host_copies(tree, n=None):
  """`n` (default: the local device count) stacked copies of `tree`, on the host."""
  n = jax.local_device_count() if n is None else n
  return jax.tree_util.tree_map(lambda x: np.broadcast_to(np.asarray(x), (n,) + np.shape(x)),
                                tree)


def replicate(tree, devices=None):
  """One copy of `tree` per device (by default every local device), on the devices."""
  if not jax.tree_util.tree_leaves(tree):
    return tree  # pmap needs at least one array (e.g. no VGG params without a feature loss)
  return to_devices(host_copies(tree, len(devices) if devices is not None else None), devices)


def local_values(x) -> np.ndarray:
  """This process's slices of a pmapped output, (local_devices, ...) on the host.

  With several processes the step's outputs span devices this process cannot
  read; only its own shards are fetched.
  """
  return np.concatenate([np.asarray(s.data) for s in x.addressable_shards])


def unreplicate(tree):
  """The first local device's copy, as host numpy arrays."""
  return jax.tree_util.tree_map(lambda x: np.asarray(x.addressable_shards[0].data)[0], tree)


def step_key(key, step):
  """Inside a pmapped step: `key` folded with the step number, then this device's index."""
  return jax.random.fold_in(jax.random.fold_in(key, step), jax.lax.axis_index(AXIS))


def pmean(tree):
  """Mean over devices inside a pmapped step; on one device nothing to do.

  There the all-reduce would only copy every gradient (20 ms a step for the
  palette generator on CPU).
  """
  return tree if jax.lax.axis_size(AXIS) == 1 else jax.lax.pmean(tree, AXIS)


# --------------------------------------------------------------------------
# Global arrays, as checkpoints hold them: replicated (one logical copy) or
# sharded (each device's own slice, e.g. its image pool).


def _mesh():
  return Mesh(np.asarray(jax.devices()), (_MESH_AXIS,))


def _sharding(sharded: bool):
  return NamedSharding(_mesh(), PartitionSpec(_MESH_AXIS) if sharded else PartitionSpec())


def to_global(x, sharded: bool):
  """A pmapped array (one slice per local device) as a global array."""
  shards = [s.data for s in x.addressable_shards]
  if sharded:
    return jax.make_array_from_single_device_arrays(
        (jax.device_count(),) + x.shape[1:], _sharding(True), shards)
  return jax.make_array_from_single_device_arrays(
      x.shape[1:], _sharding(False), [s.reshape(s.shape[1:]) for s in shards])


def global_shape(x, sharded: bool):
  """The ShapeDtypeStruct of `to_global` of a per-device value shaped like host array `x`."""
  shape = ((jax.device_count(),) if sharded else ()) + tuple(np.shape(x))
  return jax.ShapeDtypeStruct(shape, x.dtype, sharding=_sharding(sharded))


def from_global(x, sharded: bool):
  """A global array as a (local_devices, ...) host array, in pmap's device order."""
  if not sharded:
    return host_copies(np.asarray(x.addressable_shards[0].data))
  by_device = {s.device: np.asarray(s.data)[0] for s in x.addressable_shards}
  return np.stack([by_device[d] for d in jax.local_devices()])
