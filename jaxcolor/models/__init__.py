"""Model construction from a config, and the functional entry points the trainer uses."""

import math
import zlib

import jax
import jax.numpy as jnp
import numpy as np
from flax import traverse_util

from jaxcolor import hints, transforms
from jaxcolor.errors import UserError
from jaxcolor.models.generators import HistogramUNet, PaletteUNet, ReferenceUNet
from jaxcolor.models.patchgan import PatchGAN

FAMILIES = ("palette", "histogram", "reference")


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
                       input_skip=bool(m.get("input_skip", False)), dtype=dtype)
  if m.family == "reference":
    return ReferenceUNet(widths=tuple(m.widths), norm_groups=m.norm_groups,
                         weight_standardization=m.weight_standardization, noise=m.noise,
                         input_skip=bool(m.get("input_skip", True)),
                         attention_level=int(m.get("attention_level", 2)),
                         heads=int(m.get("attention_heads", 4)),
                         head_dim=int(m.get("attention_head_dim", 64)), dtype=dtype)
  if m.family == "histogram":
    if m.get("input_skip", False):
      raise UserError("config.model.input_skip is for the palette family only (the histogram "
                      "generator keeps a full-resolution skip already)")
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


def check_family(model_config):
  """One-line error for a family / hint pair that no generator reads.

  The palette and histogram U-Nets read either kind of colour planes; a reference image
  is read by the reference family only, and that family reads nothing else.
  """
  family, hint = model_config.family, model_config.hint
  if family not in FAMILIES:
    raise UserError(f"config.model.family must be one of {', '.join(FAMILIES)}, "
                    f"not {family!r}")
  if (family == "reference") != (hint == hints.REFERENCE):
    raise UserError(f"config.model.hint {hint!r} does not fit the {family} family: the "
                    f"reference family takes hint 'reference', the others a palette or "
                    f"histogram")


def generator_input(hint_kind: str, sketch: jax.Array, hint_colors: jax.Array,
                    points: jax.Array | None = None) -> jax.Array:
  """Sketch (B,H,W,1) + hint colours [+ colour points (B,H,W,4)] -> the generator input.

  A reference image (the reference family's hint) is not aligned with the sketch, so it
  adds no planes here: it goes to the generator on its own (`generator_reference`).
  """
  b, h, w, _ = sketch.shape
  sketch3 = jnp.broadcast_to(sketch, (b, h, w, 3))
  parts = [sketch3]
  if hint_kind != hints.REFERENCE:
    parts.append(hints.hint_planes(hint_kind, hint_colors, h, w).astype(sketch.dtype))
  if points is not None:
    parts.append(points.astype(sketch.dtype))
  return jnp.concatenate(parts, axis=-1)


def generator_reference(hint_kind: str, hint: jax.Array):
  """The generator's second argument: the reference image, or None for the other families."""
  return hint if hint_kind == hints.REFERENCE else None


def uses_points(model_config) -> bool:
  return bool(model_config.get("points", False))


def input_channels(hint_kind: str, points: bool = False) -> int:
  return 3 + hints.hint_channels(hint_kind) + (hints.POINT_CHANNELS if points else 0)


def _dummy_inputs(model_config, image_size: int):
  c = input_channels(model_config.hint, uses_points(model_config))
  return (jnp.zeros((1, image_size, image_size, c), jnp.float32),
          jnp.zeros((1, image_size, image_size, 3), jnp.float32))


def dummy_reference(model_config, image_size: int):
  """A reference of the training size for the reference family; None for the others."""
  if model_config.hint != hints.REFERENCE:
    return None
  return jnp.zeros((1, image_size, image_size, 3), jnp.float32)


def generator_shapes(model_config, image_size: int):
  """The generator's parameter tree as ShapeDtypeStructs (nothing allocated or compiled)."""
  gen = make_generator(model_config)
  x, _ = _dummy_inputs(model_config, image_size)
  ref = dummy_reference(model_config, image_size)
  return jax.eval_shape(
      lambda k: gen.init({"params": k, "noise": k, "dropout": k}, x, ref, train=False,
                         with_guides=model_config.family == "histogram")["params"],
      jax.random.key(0))


def discriminator_shapes(model_config, image_size: int):
  disc = make_discriminator(model_config)
  cond, img = _dummy_inputs(model_config, image_size)
  return jax.eval_shape(lambda k: disc.init(k, cond, img)["params"], jax.random.key(0))


def _host_init(shapes, seed: int, kernel_init):
  """Fills a parameter tree on the host: kernels from `kernel_init`, norm scales 1, rest 0.

  Each leaf draws from its own numpy Philox stream keyed by (seed, its path), so
  initial parameters are the same on every backend and cost no compilation
  (compiling the flax initializers takes ~20 s on a CPU, even for tiny models).
  """
  out = {}
  for path, leaf in traverse_util.flatten_dict(shapes).items():
    shape = tuple(leaf.shape)
    if path[-1] == "kernel":
      rng = np.random.Generator(np.random.Philox(
          key=[int(seed) & 0xFFFFFFFF, zlib.crc32("/".join(path).encode())]))
      value = kernel_init(rng, shape)
    elif path[-1] == "scale":
      value = np.ones(shape)
    else:  # biases, noise weights
      value = np.zeros(shape)
    out[path] = value.astype(leaf.dtype)
  return traverse_util.unflatten_dict(out)


def _fan_in_uniform(rng, shape):
  bound = 1.0 / math.sqrt(math.prod(shape[:-1]))
  return rng.uniform(-bound, bound, shape)


def _normal_002(rng, shape):
  return rng.normal(0.0, 0.02, shape)


def init_generator(model_config, seed: int, image_size: int):
  """Initial generator parameters (numpy, host), deterministic in `seed`."""
  return _host_init(generator_shapes(model_config, image_size), seed, _fan_in_uniform)


def init_discriminator(model_config, seed: int, image_size: int):
  """(params, spectral state), numpy on the host; the state is empty without spectral norm."""
  params = _host_init(discriminator_shapes(model_config, image_size), seed, _normal_002)
  state = (transforms.init_spectral_state(params, seed) if model_config.spectral_norm else {})
  return params, state


def normalized_discriminator_params(model_config, params, spectral_state, *, update: bool):
  """Applies spectral norm (once per step); returns (params to use, new state)."""
  if not model_config.spectral_norm:
    return params, spectral_state
  return transforms.spectral_normalize(params, spectral_state, update=update,
                                       n_iterations=model_config.sn_iterations)


def count_params(tree) -> int:
  return sum(int(x.size) for x in jax.tree_util.tree_leaves(tree))
