"""Generators and PatchGAN: shapes, parameter counts, determinism, noise, receptive field."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import histogram as histogram_config
from configs import palette as palette_config
from configs import tiny as tiny_config
from jaxcolor import models


@pytest.fixture(scope="module")
def tiny_palette():
  c = tiny_config.get_config("palette")
  params = models.init_generator(c.model, 0, 64)
  return c, models.make_generator(c.model), params


def test_default_parameter_counts_match_the_public_models():
  """Counted through eval_shape: nothing is allocated."""
  c = palette_config.get_config()
  g = models.generator_shapes(c.model, 256)
  d = models.discriminator_shapes(c.model, 256)
  # The public code's 63,504,297 minus its 1,579,008 unused shortcut weights.
  assert abs(models.count_params(g) - 61_925_289) / 61_925_289 < 0.01
  # 2,797,377 minus the GroupNorm the public code creates after conv 1 and never uses.
  assert models.count_params(d) == 2_797_249
  h = histogram_config.get_config()
  gh = models.generator_shapes(h.model, 512)
  assert 40e6 < models.count_params(gh) < 70e6


@pytest.mark.parametrize("family,sizes", [("palette", (64, 96)), ("histogram", (64, 48))])
def test_generator_shapes_at_two_resolutions(family, sizes):
  c = tiny_config.get_config(family)
  gen = models.make_generator(c.model)
  cin = models.input_channels(c.model.hint)
  params = models.init_generator(c.model, 0, 64)
  apply = lambda p, x: gen.apply({"params": p}, x, rngs={"noise": jax.random.key(1)})
  for s in sizes:
    x = jax.ShapeDtypeStruct((2, s, s + gen.stride, cin), jnp.float32)
    assert jax.eval_shape(apply, params, x).shape == (2, s, s + gen.stride, 3)
  out = jax.jit(apply)(params, jnp.ones((1, sizes[0], sizes[0], cin)))
  assert out.shape == (1, sizes[0], sizes[0], 3)
  assert 0 < float(jnp.max(jnp.abs(out))) <= 1.0
  if family == "histogram":
    out, guides = jax.eval_shape(
        lambda p, x: gen.apply({"params": p}, x, train=True, with_guides=True,
                               rngs={"dropout": jax.random.key(2)}),
        params, jax.ShapeDtypeStruct((1, 64, 64, cin), jnp.float32))
    assert guides["gray"].shape == (1, 64, 64, 1)
    assert guides["color"].shape == (1, 64, 64, 3)


def test_input_not_divisible_by_stride_names_sizes(tiny_palette):
  c, gen, params = tiny_palette
  with pytest.raises(ValueError, match=r"60x64.*stride 32"):
    gen.apply({"params": params}, jnp.zeros((1, 60, 64, 30)), noise_mode="zero")


def test_same_inputs_and_key_give_bitwise_same_output(tiny_palette):
  c, gen, params = tiny_palette
  x = jax.random.uniform(jax.random.key(3), (2, 64, 64, 30), minval=-1, maxval=1)
  f = jax.jit(lambda p, x, k: gen.apply({"params": p}, x, rngs={"noise": k}))
  a = np.asarray(f(params, x, jax.random.key(7)))
  b = np.asarray(f(params, x, jax.random.key(7)))
  np.testing.assert_array_equal(a, b)


def test_noise_key_matters_only_once_noise_weights_are_nonzero(tiny_palette):
  c, gen, params = tiny_palette
  x = jax.random.uniform(jax.random.key(3), (1, 64, 64, 30), minval=-1, maxval=1)
  f = jax.jit(lambda p, k: gen.apply({"params": p}, x, rngs={"noise": k}))
  np.testing.assert_array_equal(f(params, jax.random.key(1)), f(params, jax.random.key(2)))
  zero = jax.jit(lambda p: gen.apply({"params": p}, x, noise_mode="zero"))(params)
  # Different programs may round differently, so not bitwise here.
  np.testing.assert_allclose(zero, f(params, jax.random.key(1)), atol=1e-5)
  noisy = jax.tree_util.tree_map_with_path(
      lambda path, v: v + 0.5 if "weight" in jax.tree_util.keystr(path) else v, params)
  a, b = f(noisy, jax.random.key(1)), f(noisy, jax.random.key(2))
  assert float(jnp.max(jnp.abs(a - b))) > 1e-4


def test_weight_standardization_is_applied_to_generator_kernels(tiny_palette):
  """Scaling every conv kernel must not change the output when WS is on."""
  c, gen, params = tiny_palette
  x = jax.random.uniform(jax.random.key(4), (1, 64, 64, 30), minval=-1, maxval=1)
  scaled = jax.tree_util.tree_map_with_path(
      lambda path, v: v * 3.0 if v.ndim == 4 else v, params)
  f = jax.jit(lambda p: gen.apply({"params": p}, x, noise_mode="zero"))
  # Not exact: the 1e-5 added to each kernel's std is not scale-invariant.
  np.testing.assert_allclose(f(params), f(scaled), atol=5e-3)
  c.model.weight_standardization = False
  plain = models.make_generator(c.model)
  g = jax.jit(lambda p: plain.apply({"params": p}, x, noise_mode="zero"))
  assert float(jnp.max(jnp.abs(g(params) - g(scaled)))) > 5e-2


def test_patchgan_map_size_and_70x70_receptive_field():
  c = palette_config.get_config()
  c.model.disc_widths = (8, 16, 16, 16)
  disc = models.make_discriminator(c.model, use_norm=False)
  cond = jnp.zeros((1, 256, 256, 30))
  img = jax.random.normal(jax.random.key(0), (1, 256, 256, 3))
  params = disc.init(jax.random.key(1), cond, img)["params"]
  out = disc.apply({"params": params}, cond, img)
  assert out.shape == (1, 30, 30, 1)

  def patch(image):
    return disc.apply({"params": params}, cond, image)[0, 15, 15, 0]

  g = np.abs(np.asarray(jax.grad(patch)(img))[0].sum(-1))
  rows, cols = np.nonzero(g)
  assert rows.max() - rows.min() + 1 == 70
  assert cols.max() - cols.min() + 1 == 70


@pytest.mark.parametrize("channels,groups", [(8, 4), (6, 1)])
def test_group_norm_matches_flax_group_norm_with_gradients(channels, groups):
  import flax.linen as nn  # pylint: disable=g-import-not-at-top
  from jaxcolor.models import layers  # pylint: disable=g-import-not-at-top
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
  import flax.linen as nn  # pylint: disable=g-import-not-at-top
  from jaxcolor.models import layers  # pylint: disable=g-import-not-at-top
  # Distinct values: no ties, where the two gradients may split differently.
  x = jax.random.permutation(jax.random.key(0), 2 * size[0] * size[1] * 3).astype(jnp.float32)
  x = x.reshape(2, *size, 3)

  def ref(x):
    return nn.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))

  y, vjp = jax.vjp(layers.max_pool_3x3, x)
  y_ref, vjp_ref = jax.vjp(ref, x)
  np.testing.assert_array_equal(y, y_ref)
  ct = jax.random.normal(jax.random.key(1), y.shape)
  # Overlapping windows add up in another order: equal to rounding.
  np.testing.assert_allclose(vjp(ct)[0], vjp_ref(ct)[0], rtol=1e-6, atol=1e-6)


def test_max_pool_gradient_goes_whole_to_one_maximum_per_window():
  from jaxcolor.models import layers  # pylint: disable=g-import-not-at-top
  # After a ReLU most windows tie at zero; values repeat often too.
  x = jnp.maximum(jnp.round(jax.random.normal(jax.random.key(0), (2, 8, 12, 3)) * 2), 0.0)
  ct = jax.random.uniform(jax.random.key(1), (2, 4, 6, 3), minval=1.0, maxval=2.0)
  y, vjp = jax.vjp(layers.max_pool_3x3, x)
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
  _, vjp0 = jax.vjp(layers.max_pool_3x3, jnp.zeros_like(x))
  dx0 = np.asarray(vjp0(jnp.ones_like(ct))[0])
  np.testing.assert_array_equal(dx0, np.round(dx0))
  assert dx0.sum() == ct.size


@pytest.mark.parametrize("size,k", [((2, 2), 3), ((4, 4), 3), ((1, 4), 3), ((4, 4), 1),
                                    ((8, 8), 3)])
def test_conv_on_small_maps_matches_xla_conv_with_gradients(size, k):
  from jaxcolor.models import layers  # pylint: disable=g-import-not-at-top
  x = jax.random.normal(jax.random.key(0), (2, *size, 6))
  w = jax.random.normal(jax.random.key(1), (k, k, 6, 5))
  ct = jax.random.normal(jax.random.key(2), (2, *size, 5))
  dn = jax.lax.conv_dimension_numbers(x.shape, w.shape, ("NHWC", "HWIO", "NHWC"))

  def ours(x, w):
    return layers._conv_small_maps_as_matmul(x, w, (1, 1), "SAME", dimension_numbers=dn)  # pylint: disable=protected-access

  def ref(x, w):
    return jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=dn)

  y, vjp = jax.vjp(ours, x, w)
  y_ref, vjp_ref = jax.vjp(ref, x, w)
  np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-5)
  for a, b in zip(vjp(ct), vjp_ref(ct)):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("size", [(8, 8), (6, 10)])
def test_space_to_depth_stride2_conv_matches_the_direct_conv(size):
  from jaxcolor.models import patchgan  # pylint: disable=g-import-not-at-top
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


def test_bfloat16_compute_keeps_float32_params():
  c = tiny_config.get_config("palette")
  c.model.dtype = "bfloat16"
  gen = models.make_generator(c.model)
  params = models.init_generator(c.model, 0, 64)
  assert all(p.dtype == jnp.float32 for p in jax.tree_util.tree_leaves(params))
  out = gen.apply({"params": params}, jnp.zeros((1, 64, 64, 30)), noise_mode="zero")
  assert out.shape == (1, 64, 64, 3) and out.dtype == jnp.float32
