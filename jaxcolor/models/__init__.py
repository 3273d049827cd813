"""Model construction from a config, and the functional entry points the trainer uses."""

import jax
import jax.numpy as jnp

from jaxcolor import hints, transforms
from jaxcolor.models.generators import HistogramUNet, PaletteUNet
from jaxcolor.models.patchgan import PatchGAN

FAMILIES = ("palette", "histogram")


def compute_dtype(name: str):
  try:
    return {"float32": jnp.float32, "bfloat16": jnp.bfloat16, "float16": jnp.float16}[name]
  except KeyError:
    raise ValueError(f"model.dtype must be float32, bfloat16 or float16, not {name!r}") from None


def make_generator(model_config):
  """The generator module named by `model_config.family`."""
  m = model_config
  dtype = compute_dtype(m.dtype)
  if m.family == "palette":
    return PaletteUNet(widths=tuple(m.widths), norm_groups=m.norm_groups,
                       weight_standardization=m.weight_standardization, noise=m.noise,
                       dtype=dtype)
  if m.family == "histogram":
    return HistogramUNet(stem_width=m.stem_width, widths=tuple(m.widths),
                         norm_groups=m.norm_groups,
                         weight_standardization=m.weight_standardization,
                         dropout_levels=m.dropout_levels, dropout_rate=m.dropout_rate,
                         dtype=dtype)
  raise ValueError(f"model.family must be one of {FAMILIES}, not {m.family!r}")


def make_discriminator(model_config, use_norm: bool = True):
  m = model_config
  return PatchGAN(widths=tuple(m.disc_widths), norm_groups=m.norm_groups, use_norm=use_norm,
                  dtype=compute_dtype(m.dtype))


def model_stride(model_config) -> int:
  return 2 ** len(model_config.widths)


def generator_input(hint_kind: str, sketch: jax.Array, hint_colors: jax.Array) -> jax.Array:
  """Sketch (B,H,W,1) + hint colours -> the generator input (B,H,W,3+C)."""
  b, h, w, _ = sketch.shape
  planes = hints.hint_planes(hint_kind, hint_colors, h, w)
  sketch3 = jnp.broadcast_to(sketch, (b, h, w, 3))
  return jnp.concatenate([sketch3, planes.astype(sketch.dtype)], axis=-1)


def input_channels(hint_kind: str) -> int:
  return 3 + hints.hint_channels(hint_kind)


def init_generator(model_config, key, image_size: int):
  gen = make_generator(model_config)
  x = jnp.zeros((1, image_size, image_size, input_channels(model_config.hint)), jnp.float32)
  variables = gen.init({"params": key, "noise": key, "dropout": key}, x, train=False,
                       with_guides=model_config.family == "histogram")
  return variables["params"]


def init_discriminator(model_config, key, image_size: int):
  """(params, spectral state); the state is empty when spectral norm is off."""
  disc = make_discriminator(model_config)
  c = input_channels(model_config.hint)
  cond = jnp.zeros((1, image_size, image_size, c), jnp.float32)
  img = jnp.zeros((1, image_size, image_size, 3), jnp.float32)
  pkey, ukey = jax.random.split(key)
  params = disc.init(pkey, cond, img)["params"]
  state = transforms.init_spectral_state(params, ukey) if model_config.spectral_norm else {}
  return params, state


def normalized_discriminator_params(model_config, params, spectral_state, *, update: bool):
  """Applies spectral norm (once per step); returns (params to use, new state)."""
  if not model_config.spectral_norm:
    return params, spectral_state
  return transforms.spectral_normalize(params, spectral_state, update=update,
                                       n_iterations=model_config.sn_iterations)


def count_params(tree) -> int:
  return sum(int(x.size) for x in jax.tree_util.tree_leaves(tree))
