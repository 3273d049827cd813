"""bfloat16 compute with float32 parameters and optimiser state."""

import jax
import jax.numpy as jnp
import numpy as np

from conftest import config_module, generator_of, micro_config
from jaxcolor import models
from jaxcolor import train


def test_bfloat16_compute_trains_with_float32_state(synthetic_data_dir, tmp_path):
  config = micro_config(synthetic_data_dir, steps=2)
  config.model.dtype = "bfloat16"
  result = train.train_and_evaluate(config, str(tmp_path))
  assert np.isfinite(result["g_loss"]) and np.isfinite(result["val_psnr"])
  _, params = generator_of(tmp_path)
  assert all(p.dtype == np.float32 for p in jax.tree_util.tree_leaves(params))


def test_bfloat16_compute_keeps_float32_params():
  c = config_module("micro").get_config("palette")
  c.model.dtype = "bfloat16"
  gen = models.make_generator(c.model)
  params = models.init_generator(c.model, 0, c.image_size)
  assert all(p.dtype == jnp.float32 for p in jax.tree_util.tree_leaves(params))
  out = jax.jit(lambda p, x: gen.apply({"params": p}, x, noise_mode="zero"))(
      params, jnp.zeros((1, c.image_size, c.image_size, 30)))
  assert out.shape == (1, c.image_size, c.image_size, 3) and out.dtype == jnp.float32
