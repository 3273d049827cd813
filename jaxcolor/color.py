"""Colour arithmetic shared by data, hints, losses and metrics: one implementation each.

Functions take numpy arrays (computed in numpy, on the host) or jax arrays
(computed in jax.numpy, traceable); JAX is imported only for the latter.
"""

import numpy as np

# Rec. 601 luma weights: PIL's "L" mode, the sketches' and the guide decoder's grey.
LUMA_601 = np.array([0.299, 0.587, 0.114], np.float32)

_RGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                        [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]])
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ)
_D65_WHITE = np.array([0.95047, 1.0, 1.08883])
_LAB_DELTA = 6.0 / 29.0


def _is_jax(x) -> bool:
  return type(x).__module__.startswith("jax")


def to_float(x):
  """uint8 -> float32 in [-1, 1] (images, colours)."""
  return np.asarray(x, np.float32) / 127.5 - 1.0


def to_uint8(x):
  """float in [-1, 1] -> uint8 (rounded, clipped)."""
  return np.clip(np.rint((np.asarray(x, np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def luma(rgb):
  """Rec. 601 luma of (..., 3) RGB, in the input's units: (...,)."""
  if _is_jax(rgb):
    import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
    return jnp.sum(rgb * jnp.asarray(LUMA_601, rgb.dtype), axis=-1)
  return np.asarray(rgb, np.float32) @ LUMA_601


def rgb_to_lab(rgb):
  """sRGB in [0, 255] (..., 3) -> CIELAB (D65) (..., 3).

  numpy input (or a list): float64; a jax array: float32, traceable.
  """
  if _is_jax(rgb):
    import jax.numpy as xp  # pylint: disable=g-import-not-at-top
    c = rgb.astype(xp.float32) / 255.0
    matrix, white = xp.asarray(_RGB_TO_XYZ.T, xp.float32), xp.asarray(_D65_WHITE, xp.float32)
  else:
    xp = np
    c = np.asarray(rgb, np.float64) / 255.0
    matrix, white = _RGB_TO_XYZ.T, _D65_WHITE
  lin = xp.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
  xyz = (lin @ matrix) / white
  f = xp.where(xyz > _LAB_DELTA ** 3, xp.cbrt(xyz), xyz / (3 * _LAB_DELTA ** 2) + 4.0 / 29.0)
  return xp.stack([116.0 * f[..., 1] - 16.0, 500.0 * (f[..., 0] - f[..., 1]),
                   200.0 * (f[..., 1] - f[..., 2])], -1)


def lab_to_rgb(lab):
  """CIELAB (D65) (..., 3) -> sRGB float64 in [0, 255] (clipped, not rounded); numpy."""
  lab = np.asarray(lab, np.float64)
  fy = (lab[..., 0] + 16.0) / 116.0
  f = np.stack([fy + lab[..., 1] / 500.0, fy, fy - lab[..., 2] / 200.0], -1)
  xyz = np.where(f > _LAB_DELTA, f ** 3, 3 * _LAB_DELTA ** 2 * (f - 4.0 / 29.0)) * _D65_WHITE
  lin = np.clip(xyz @ _XYZ_TO_RGB.T, 0.0, 1.0)
  c = np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * lin ** (1 / 2.4) - 0.055)
  return np.clip(c * 255.0, 0.0, 255.0)
