"""The CPU forms of five ops (jaxcolor/cpu_paths.py) against their plain forms, on CPU.

Each pair must agree in values and gradients, so that a GPU or TPU run (plain
forms) trains the same model as a CPU run (CPU forms).
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import config_module
from jaxcolor import cpu_paths
from jaxcolor import models
from jaxcolor import transforms
from jaxcolor.models import layers
from jaxcolor.models import patchgan


def test_the_cpu_forms_are_on_for_a_cpu_backend():
  assert jax.default_backend() == "cpu" and cpu_paths.enabled()


def _vjp_close(f, g, args, ct, rtol, atol):
  y, vjp = jax.vjp(f, *args)
  y_ref, vjp_ref = jax.vjp(g, *args)
  np.testing.assert_allclose(y, y_ref, rtol=rtol, atol=atol)
  for got, want in zip(jax.tree.leaves(vjp(ct)), jax.tree.leaves(vjp_ref(ct))):
    np.testing.assert_allclose(got, want, rtol=rtol * 10, atol=atol * 10)


@pytest.mark.parametrize("channels,groups", [(8, 4), (6, 1), (12, 3)])
def test_group_stats_cpu_form_matches_plain_form(channels, groups):
  x = 3.0 * jax.random.normal(jax.random.key(0), (2, 5, 7, channels)) + 1.0
  cpu = jax.jit(lambda x: layers.group_stats(x, groups, cpu=True))(x)
  plain = jax.jit(lambda x: layers.group_stats(x, groups, cpu=False))(x)
  for a, b in zip(cpu, plain):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_standardize_kernel_cpu_form_matches_plain_form():
  k = jax.random.normal(jax.random.key(0), (3, 3, 6, 5))
  ct = jax.random.normal(jax.random.key(1), k.shape)
  _vjp_close(lambda k: transforms.standardize_kernel(k, cpu=True),
             lambda k: transforms.standardize_kernel(k, cpu=False), (k,), ct, 1e-5, 1e-5)


def test_off_the_cpu_the_plain_forms_are_traced():
  x = jax.random.normal(jax.random.key(0), (1, 4, 4, 6))
  w = jax.random.normal(jax.random.key(1), (3, 3, 6, 5))
  dn = jax.lax.conv_dimension_numbers(x.shape, w.shape, ("NHWC", "HWIO", "NHWC"))
  jaxpr = lambda f: str(jax.make_jaxpr(f)(x))
  small = lambda cpu: lambda x: layers._conv_small_maps_as_matmul(  # pylint: disable=protected-access
      x, w, (1, 1), "SAME", dimension_numbers=dn, cpu=cpu)
  assert "dot_general" in jaxpr(small(True)) and "conv_general" not in jaxpr(small(True))
  assert "conv_general" in jaxpr(small(False))
  assert "custom_vjp" in jaxpr(lambda x: layers.max_pool_3x3(x, cpu=True))
  assert "reduce_window" in jaxpr(lambda x: layers.max_pool_3x3(x, cpu=False))
  assert "optimization_barrier" in jaxpr(lambda x: layers.group_stats(x, 2, cpu=True)[1])
  assert "optimization_barrier" not in jaxpr(lambda x: layers.group_stats(x, 2, cpu=False)[1])


def test_whole_models_agree_with_every_op_in_its_plain_form(monkeypatch):
  # The palette generator and the PatchGAN use all five ops; their gradients are
  # checked op by op below.
  c = config_module("micro").get_config("palette")
  size = c.image_size
  gen, disc = models.make_generator(c.model), models.make_discriminator(c.model)
  g_params = models.init_generator(c.model, 0, size)
  d_params, _ = models.init_discriminator(c.model, 1, size)
  x = jax.random.uniform(jax.random.key(0), (2, size, size, models.input_channels(c.model.hint)),
                         minval=-1.0, maxval=1.0)

  def run():  # a fresh function each time: the forms are chosen while tracing
    def forward(gp, dp):
      out = gen.apply({"params": gp}, x, noise_mode="zero")
      return out, disc.apply({"params": dp}, x, out)
    return jax.jit(forward)(g_params, d_params)

  out_cpu, logits_cpu = run()
  monkeypatch.setattr(cpu_paths, "enabled", lambda: False)
  out_plain, logits_plain = run()
  # Float32 rounding differs op by op, and GroupNorm layers amplify it a little.
  np.testing.assert_allclose(out_cpu, out_plain, atol=2e-3)
  np.testing.assert_allclose(logits_cpu, logits_plain, atol=2e-3)


# The CPU forms against the textbook ops (flax / lax), values and gradients.


@pytest.mark.parametrize("channels,groups", [(8, 4), (6, 1)])
def test_group_norm_matches_flax_group_norm_with_gradients(channels, groups):
  x = 3.0 * jax.random.normal(jax.random.key(0), (2, 5, 7, channels)) + 1.0
  ct = jax.random.normal(jax.random.key(1), x.shape)
  ours = layers.GroupNorm(num_groups=groups)
  ref = nn.GroupNorm(num_groups=groups, epsilon=1e-5)
  variables = ref.init(jax.random.key(2), x)
  variables = jax.tree.map(lambda p: p + 0.3 * jax.random.normal(jax.random.key(3), p.shape),
                           variables)
  assert jax.tree.structure(ours.init(jax.random.key(2), x)) == jax.tree.structure(variables)
  y, vjp = jax.vjp(ours.apply, variables, x)
  y_ref, vjp_ref = jax.vjp(ref.apply, variables, x)
  np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-5)
  for got, want in zip(jax.tree.leaves(vjp(ct)), jax.tree.leaves(vjp_ref(ct))):
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("size", [(8, 8), (7, 6)])
def test_max_pool_matches_flax_max_pool_with_gradients(size):
  # Distinct values: no ties, where the two gradients may split differently.
  x = jax.random.permutation(jax.random.key(0), 2 * size[0] * size[1] * 3).astype(jnp.float32)
  x = x.reshape(2, *size, 3)

  def ref(x):
    return nn.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))

  y, vjp = jax.vjp(lambda x: layers.max_pool_3x3(x, cpu=True), x)
  y_ref, vjp_ref = jax.vjp(ref, x)
  np.testing.assert_array_equal(y, y_ref)
  ct = jax.random.normal(jax.random.key(1), y.shape)
  # Overlapping windows add up in another order: equal to rounding.
  np.testing.assert_allclose(vjp(ct)[0], vjp_ref(ct)[0], rtol=1e-6, atol=1e-6)


def test_max_pool_gradient_goes_whole_to_one_maximum_per_window():
  # After a ReLU most windows tie at zero; values repeat often too.
  x = jnp.maximum(jnp.round(jax.random.normal(jax.random.key(0), (2, 8, 12, 3)) * 2), 0.0)
  ct = jax.random.uniform(jax.random.key(1), (2, 4, 6, 3), minval=1.0, maxval=2.0)
  y, vjp = jax.vjp(lambda x: layers.max_pool_3x3(x, cpu=True), x)
  dx = np.asarray(vjp(ct)[0])
  # Nothing is split or lost: the cotangents add up, and each input that
  # received some is the maximum of a window holding it.
  np.testing.assert_allclose(dx.sum(axis=(1, 2)), np.asarray(ct).sum(axis=(1, 2)), rtol=1e-6)
  y = np.asarray(y)
  for b, r, c, ch in zip(*np.nonzero(dx)):
    windows = [(i, j) for i in range(4) for j in range(6)
               if abs(r - 2 * i) <= 1 and abs(c - 2 * j) <= 1]
    assert any(x[b, r, c, ch] == y[b, i, j, ch] for i, j in windows)
  # All tied: each window's unit cotangent lands whole on one input.
  _, vjp0 = jax.vjp(lambda x: layers.max_pool_3x3(x, cpu=True), jnp.zeros_like(x))
  dx0 = np.asarray(vjp0(jnp.ones_like(ct))[0])
  np.testing.assert_array_equal(dx0, np.round(dx0))
  assert dx0.sum() == ct.size


@pytest.mark.parametrize("size,k", [((2, 2), 3), ((4, 4), 3), ((1, 4), 3), ((4, 4), 1),
                                    ((8, 8), 3)])
def test_conv_on_small_maps_matches_xla_conv_with_gradients(size, k):
  x = jax.random.normal(jax.random.key(0), (2, *size, 6))
  w = jax.random.normal(jax.random.key(1), (k, k, 6, 5))
  ct = jax.random.normal(jax.random.key(2), (2, *size, 5))
  dn = jax.lax.conv_dimension_numbers(x.shape, w.shape, ("NHWC", "HWIO", "NHWC"))

  def ours(x, w):
    return layers._conv_small_maps_as_matmul(x, w, (1, 1), "SAME", dimension_numbers=dn, cpu=True)  # pylint: disable=protected-access

  def ref(x, w):
    return jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=dn)

  y, vjp = jax.vjp(ours, x, w)
  y_ref, vjp_ref = jax.vjp(ref, x, w)
  np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-5)
  for a, b in zip(vjp(ct), vjp_ref(ct)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("size", [(8, 8), (6, 10)])
def test_space_to_depth_stride2_conv_matches_the_direct_conv(size):
  x = jax.random.normal(jax.random.key(0), (2, *size, 5))
  k = jax.random.normal(jax.random.key(1), (4, 4, 5, 7))
  ct = jax.random.normal(jax.random.key(2), (2, size[0] // 2, size[1] // 2, 7))

  def direct(x, k):
    return jax.lax.conv_general_dilated(x, k, (2, 2), ((1, 1), (1, 1)),
                                        dimension_numbers=("NHWC", "HWIO", "NHWC"))

  y, vjp = jax.vjp(patchgan.conv4x4_stride2, x, k)
  y_ref, vjp_ref = jax.vjp(direct, x, k)
  np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-5)
  for got, want in zip(vjp(ct), vjp_ref(ct)):
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)
