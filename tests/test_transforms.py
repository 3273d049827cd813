"""Weight standardization and spectral normalization against numpy."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxcolor import transforms


def _tree(rng):
  return {
      "conv_a": {"kernel": rng.normal(size=(3, 3, 5, 7)).astype(np.float32),
                 "bias": rng.normal(size=(7,)).astype(np.float32)},
      "block": {"conv_b": {"kernel": rng.normal(2.0, 3.0, size=(1, 1, 4, 6)).astype(np.float32)},
                "norm": {"scale": np.ones(6, np.float32)}},
  }


def test_weight_standardization_zero_mean_unit_std_per_output_channel():
  params = _tree(np.random.default_rng(0))
  out = transforms.weight_standardize(params)
  for k in (out["conv_a"]["kernel"], out["block"]["conv_b"]["kernel"]):
    k = np.asarray(k).reshape(-1, k.shape[-1])
    np.testing.assert_allclose(k.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(k.std(axis=0, ddof=1), 1.0, atol=1e-3)
  # Only 4-D kernels are touched.
  np.testing.assert_array_equal(out["conv_a"]["bias"], params["conv_a"]["bias"])
  np.testing.assert_array_equal(out["block"]["norm"]["scale"], params["block"]["norm"]["scale"])


def test_weight_standardization_matches_numpy_formula():
  k = np.random.default_rng(1).normal(size=(3, 3, 2, 4)).astype(np.float32)
  flat = k.reshape(-1, 4)
  expected = (flat - flat.mean(0)) / (flat.std(0, ddof=1) + 1e-5)
  got = np.asarray(transforms.standardize_kernel(jnp.asarray(k))).reshape(-1, 4)
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_spectral_norm_sigma_matches_svd_after_power_iterations():
  params = _tree(np.random.default_rng(2))
  state = transforms.init_spectral_state(params, 0)
  normalize = jax.jit(lambda p, s: transforms.spectral_normalize(p, s, update=True))
  for _ in range(200):
    normed, state = normalize(params, state)
  for path in (("conv_a",), ("block", "conv_b")):
    w = params
    wn = normed
    for p in path:
      w, wn = w[p], wn[p]
    mat = w["kernel"].reshape(-1, w["kernel"].shape[-1])
    sigma = np.linalg.svd(mat, compute_uv=False)[0]
    # The normalized kernel has unit spectral norm; equivalently sigma matched.
    sigma_est = mat.max() / np.asarray(wn["kernel"]).reshape(mat.shape).max()
    assert abs(sigma_est - sigma) / sigma < 1e-3
    top = np.linalg.svd(np.asarray(wn["kernel"]).reshape(mat.shape), compute_uv=False)[0]
    assert abs(top - 1.0) < 1e-3


def test_spectral_norm_frozen_in_eval_and_no_gradient_through_u():
  params = _tree(np.random.default_rng(3))
  state = transforms.init_spectral_state(params, 1)
  _, same = transforms.spectral_normalize(params, state, update=False)
  jax.tree_util.tree_map(np.testing.assert_array_equal, same, state)
  _, moved = transforms.spectral_normalize(params, state, update=True)
  assert not np.allclose(moved["conv_a"]["u"], state["conv_a"]["u"])

  def loss(u_tree):
    normed, _ = transforms.spectral_normalize(params, u_tree, update=True)
    return jnp.sum(normed["conv_a"]["kernel"] ** 2)

  grads = jax.grad(loss)(state)
  for g in jax.tree_util.tree_leaves(grads):
    np.testing.assert_array_equal(g, 0.0)


def test_spectral_norm_gradient_flows_to_kernel():
  params = _tree(np.random.default_rng(4))
  state = transforms.init_spectral_state(params, 2)

  def loss(p):
    normed, _ = transforms.spectral_normalize(p, state, update=True)
    return jnp.sum(normed["conv_a"]["kernel"][0, 0, 0])

  g = jax.grad(loss)(params)["conv_a"]["kernel"]
  assert np.abs(np.asarray(g)).sum() > 0
