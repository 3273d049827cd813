"""Parameter transforms: pure functions from parameter pytrees to parameter pytrees.

The models hold plain conv kernels. Weight standardization (generator) and
spectral normalization (discriminator) are applied to the whole parameter tree
once per forward pass, so each kernel is transformed once per step however
often the network uses it, and no layer carries hidden state.
"""

from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from jaxcolor import cpu_paths

PyTree = Any


def is_conv_kernel(path: tuple[str, ...], leaf) -> bool:
  """Conv kernels are the 4-D leaves named `kernel` (HWIO)."""
  return path[-1] == "kernel" and getattr(leaf, "ndim", 0) == 4


def standardize_kernel(kernel: jax.Array, eps: float = 1e-5, cpu: bool | None = None) -> jax.Array:
  """Per output channel: subtract the mean over (kh, kw, in), divide by std + eps."""
  # As a (kh*kw*in, out) matrix. XLA:CPU turns long reductions into reduce-windows,
  # and one over several axes (kh, kw, in) runs 2-4x slower than over one axis; the
  # barrier (CPU form, `cpu_paths`) stops XLA from folding the reshape back into a
  # multi-axis reduction.
  shape = kernel.shape
  k = kernel.reshape(-1, shape[-1])
  if cpu_paths.enabled() if cpu is None else cpu:
    k = jax.lax.optimization_barrier(k)
  n = k.shape[0]
  mean = jnp.mean(k, axis=0, keepdims=True)
  centred = k - mean
  # Unbiased std, as the public implementation uses; it matters for 1x1 kernels
  # with few inputs.
  std = jnp.sqrt(jnp.sum(centred * centred, axis=0, keepdims=True) / max(n - 1, 1))
  return (centred / (std + eps)).reshape(shape)


def map_kernels(fn: Callable[[jax.Array], jax.Array], params: PyTree,
                predicate=is_conv_kernel) -> PyTree:
  """Applies `fn` to every leaf of `params` selected by `predicate(path, leaf)`."""
  flat = traverse_util.flatten_dict(_unfreeze(params))
  out = {k: (fn(v) if predicate(k, v) else v) for k, v in flat.items()}
  return traverse_util.unflatten_dict(out)


def weight_standardize(params: PyTree, eps: float = 1e-5, predicate=is_conv_kernel) -> PyTree:
  """Weight-standardizes every conv kernel of a parameter tree."""
  if not params:  # flax map_variables calls this with an empty tree during init
    return params
  return map_kernels(lambda k: standardize_kernel(k, eps), params, predicate)


# --------------------------------------------------------------------------
# Spectral normalization.


def _l2_normalize(x: jax.Array, eps: float = 1e-12) -> jax.Array:
  return x / (jnp.linalg.norm(x) + eps)


def spectral_norm_kernel(kernel: jax.Array, u: jax.Array, n_iterations: int = 1,
                         eps: float = 1e-12):
  """Divides `kernel` by its largest singular value, estimated by power iteration.

  The kernel is viewed as a (kh*kw*in, out) matrix W; `u` has shape (out,).
  Returns (normalized kernel, new u, sigma). `u` is never differentiated
  through; sigma is, as in Miyato et al.
  """
  w = kernel.reshape(-1, kernel.shape[-1]).astype(jnp.float32)
  u = jax.lax.stop_gradient(u.astype(jnp.float32))
  wt = jax.lax.stop_gradient(w)
  v = None
  for _ in range(max(n_iterations, 1)):
    v = _l2_normalize(wt @ u, eps)
    u = _l2_normalize(wt.T @ v, eps)
  u = jax.lax.stop_gradient(u)
  v = jax.lax.stop_gradient(v)
  sigma = v @ (w @ u)
  return (kernel / sigma.astype(kernel.dtype)), u, sigma


def init_spectral_state(params: PyTree, seed: int, predicate=is_conv_kernel) -> PyTree:
  """Random unit u vectors (numpy), one per selected kernel, in a tree shaped like `params`."""
  flat = traverse_util.flatten_dict(_unfreeze(params))
  rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x5EC7])
  out = {}
  for k in sorted(k for k, v in flat.items() if predicate(k, v)):
    u = rng.standard_normal(flat[k].shape[-1]).astype(np.float32)
    out[k[:-1] + ("u",)] = u / max(float(np.linalg.norm(u)), 1e-12)
  return traverse_util.unflatten_dict(out)


def spectral_normalize(params: PyTree, state: PyTree, *, update: bool = True,
                       n_iterations: int = 1, predicate=is_conv_kernel):
  """Spectrally normalizes every conv kernel of `params`.

  Args:
    params: the discriminator's parameters.
    state: the u vectors from `init_spectral_state` (the `spectral` collection).
    update: training advances the power iteration and returns the new u
      vectors; evaluation (update=False) uses the stored u frozen and returns
      `state` unchanged.
    n_iterations: power iterations per call.

  Returns:
    (normalized params, new state).
  """
  flat = traverse_util.flatten_dict(_unfreeze(params))
  flat_state = traverse_util.flatten_dict(_unfreeze(state))
  out, new_state = {}, {}
  for k, v in flat.items():
    if not predicate(k, v):
      out[k] = v
      continue
    skey = k[:-1] + ("u",)
    u = flat_state[skey]
    if update:
      w, u_new, _ = spectral_norm_kernel(v, u, n_iterations)
    else:
      # Frozen u: sigma from one matrix-vector product with the stored vector.
      w2 = v.reshape(-1, v.shape[-1])
      v_vec = jax.lax.stop_gradient(_l2_normalize(w2 @ u))
      sigma = v_vec @ (w2 @ u)
      w, u_new = v / sigma, u
    out[k] = w
    new_state[skey] = u_new
  return traverse_util.unflatten_dict(out), traverse_util.unflatten_dict(new_state)


def _unfreeze(tree):
  if hasattr(tree, "unfreeze"):
    return tree.unfreeze()
  return dict(tree)
