"""Generators and PatchGAN: shapes, parameter counts, determinism, noise, receptive field."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import config_module
from jaxcolor import models

histogram_config = config_module("histogram")
palette_config = config_module("palette")
micro_config = config_module("micro")


SIZE = 32  # configs/micro.py's image size


@pytest.fixture(scope="module")
def micro_palette():
  c = micro_config.get_config("palette")
  params = models.init_generator(c.model, 0, SIZE)
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


@pytest.mark.parametrize("family,sizes", [("palette", (32, 48)), ("histogram", (32, 40))])
def test_generator_shapes_at_two_resolutions(family, sizes):
  c = micro_config.get_config(family)
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


def test_input_not_divisible_by_stride_names_sizes(micro_palette):
  c, gen, params = micro_palette
  with pytest.raises(ValueError, match=r"60x64.*stride 8"):
    gen.apply({"params": params}, jnp.zeros((1, 60, 64, 30)), noise_mode="zero")


def test_same_inputs_and_key_give_bitwise_same_output(micro_palette):
  c, gen, params = micro_palette
  x = jax.random.uniform(jax.random.key(3), (2, SIZE, SIZE, 30), minval=-1, maxval=1)
  f = jax.jit(lambda p, x, k: gen.apply({"params": p}, x, rngs={"noise": k}))
  a = np.asarray(f(params, x, jax.random.key(7)))
  b = np.asarray(f(params, x, jax.random.key(7)))
  np.testing.assert_array_equal(a, b)


def test_noise_key_matters_only_once_noise_weights_are_nonzero(micro_palette):
  c, gen, params = micro_palette
  x = jax.random.uniform(jax.random.key(3), (1, SIZE, SIZE, 30), minval=-1, maxval=1)
  f = jax.jit(lambda p, k: gen.apply({"params": p}, x, rngs={"noise": k}))
  np.testing.assert_array_equal(f(params, jax.random.key(1)), f(params, jax.random.key(2)))
  zero = jax.jit(lambda p: gen.apply({"params": p}, x, noise_mode="zero"))(params)
  # Different programs may round differently, so not bitwise here.
  np.testing.assert_allclose(zero, f(params, jax.random.key(1)), atol=1e-5)
  noisy = jax.tree_util.tree_map_with_path(
      lambda path, v: v + 0.5 if "weight" in jax.tree_util.keystr(path) else v, params)
  a, b = f(noisy, jax.random.key(1)), f(noisy, jax.random.key(2))
  assert float(jnp.max(jnp.abs(a - b))) > 1e-4


def test_weight_standardization_is_applied_to_generator_kernels(micro_palette):
  """Scaling every conv kernel must not change the output when WS is on."""
  c, gen, params = micro_palette
  x = jax.random.uniform(jax.random.key(4), (1, SIZE, SIZE, 30), minval=-1, maxval=1)
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
