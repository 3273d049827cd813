"""Sketches from colour images (XDoG) and sketch clean-up / augmentation, numpy on the host.

Sketches are uint8 (H, W): white paper = 255, black lines = 0. HED lives in
`jaxcolor.models.vgg`; this module only has the classical extractor.
"""

import numpy as np
from scipy import ndimage

from jaxcolor import color
from jaxcolor.errors import UserError

XDOG_DEFAULTS = {"sigma": 0.5, "k": 4.5, "p": 19.0, "epsilon": 0.01, "phi": 1e9}


def _to_gray01(rgb):
  """uint8 RGB (H, W, 3) -> float32 Rec. 601 luma in [0, 1] (same weights as PIL 'L')."""
  return color.luma(rgb) / 255.0


def xdog(gray, sigma=0.5, k=4.5, p=19, epsilon=0.01, phi=1e9):
  """Extended difference of Gaussians: float (H, W) in [0, 1] -> lines float32 in [0, 1].

  S = (1 + p) * G_sigma - p * G_{k sigma}; pixels with S >= epsilon are paper (1), others
  fall to 1 + tanh(phi * (S - epsilon)) (phi = 1e9: a hard threshold, smaller: soft lines).
  Lines form on the dark side of edges; flat areas darker than epsilon turn black.
  """
  gray = np.asarray(gray, np.float32)
  if gray.ndim != 2:
    raise UserError(f"xdog expects a (H, W) grayscale image, got shape {gray.shape}")
  g1 = ndimage.gaussian_filter(gray, sigma, mode="nearest")
  g2 = ndimage.gaussian_filter(gray, sigma * k, mode="nearest")
  s = (1.0 + p) * g1 - p * g2
  out = np.where(s >= epsilon, 1.0, 1.0 + np.tanh(phi * (s - epsilon)))
  return np.clip(out, 0.0, 1.0).astype(np.float32)


def random_xdog_params(rng):
  """Random XDoG + line-style parameters, so that a model does not learn one line style."""
  hard = rng.random() < 0.6
  return {
      "sigma": float(rng.uniform(0.3, 0.5)),
      "k": float(rng.uniform(3.5, 5.5)),
      "p": float(rng.uniform(15.0, 23.0)),
      "epsilon": float(rng.uniform(0.0, 0.05)),
      # Soft thresholds give grey, pencil-like lines.
      "phi": 1e9 if hard else float(10.0 ** rng.uniform(1.5, 3.0)),
      "thickness": int(rng.integers(0, 2)),  # extra line width in px (min-filter erosion)
      "intensity": float(rng.uniform(0.6, 1.0)),  # darkness of a full line
  }


def _line_style(x, thickness=0, intensity=1.0):
  """Applies thickening (min filter) and line darkness to float lines in [0, 1]."""
  if thickness > 0:
    # A size-2 min filter widens each dark line by exactly 1 px.
    x = ndimage.minimum_filter(x, size=thickness + 1, mode="nearest")
  return 1.0 - intensity * (1.0 - x)


def _to_uint8(x):
  return np.clip(np.rint(np.asarray(x) * 255.0), 0, 255).astype(np.uint8)


def sketch_from_color(rgb, rng=None, method="xdog"):
  """Sketch uint8 (H, W) of a uint8 RGB image; rng None = fixed default parameters."""
  if method != "xdog":
    raise UserError(f"unknown sketch method {method!r}: this module has 'xdog' "
                    "(HED is in jaxcolor.models.vgg)")
  rgb = np.asarray(rgb)
  if rgb.ndim != 3 or rgb.shape[-1] != 3:
    raise UserError(f"sketch_from_color expects (H, W, 3) RGB, got shape {rgb.shape}")
  params = dict(XDOG_DEFAULTS) if rng is None else random_xdog_params(rng)
  thickness = params.pop("thickness", 0)
  intensity = params.pop("intensity", 1.0)
  lines = xdog(_to_gray01(rgb), **params)
  return _to_uint8(_line_style(lines, thickness, intensity))


def augment_sketch(sketch, rng):
  """Random line thickness (+-1 px), darkness / contrast jitter and slight blur."""
  x = np.asarray(sketch, np.float32) / 255.0
  op = rng.choice(3, p=[0.6, 0.25, 0.15])
  if op == 1:
    x = ndimage.minimum_filter(x, size=2, mode="nearest")  # thicker lines
  elif op == 2:
    x = ndimage.maximum_filter(x, size=2, mode="nearest")  # thinner lines
  x = 1.0 - rng.uniform(0.7, 1.0) * (1.0 - x)
  x = x ** rng.uniform(0.7, 1.4)
  if rng.random() < 0.3:
    x = ndimage.gaussian_filter(x, rng.uniform(0.3, 0.8), mode="nearest")
  return _to_uint8(x)


def cleanup_sketch(sketch, threshold=None, sharpen=True, amount=1.0, sigma=1.0):
  """Remedy for noisy / faint sketches: unsharp mask, then optional binarisation.

  `threshold` is in uint8 units: pixels >= threshold become paper (255), others ink (0).
  """
  x = np.asarray(sketch, np.float32)
  if sharpen:
    x = x + amount * (x - ndimage.gaussian_filter(x, sigma, mode="nearest"))
  x = np.clip(np.rint(x), 0, 255)
  if threshold is not None:
    x = np.where(x >= threshold, 255.0, 0.0)
  return x.astype(np.uint8)


# Paper (the median pixel) darker than this but lighter than `_MIN_PAPER` is taken for a
# scan's grey or a tool's off-white and scaled to white: the models trained on white paper,
# and on held-out characters a sketch on paper of 224 lost 2.7 dB, on 200 5.7 dB
# (docs/size_study.py --paper; README, "Colour your own sketch"). Near-white paper is
# left exactly as it is.
PAPER_WHITE_BELOW = 250
_MIN_PAPER = 128


def whiten_paper(img):
  """A sketch on grey or off-white paper scaled so that its paper is white: uint8.

  The paper level is the median pixel (line art is mostly paper); every pixel is scaled
  by 255 / paper, so lines keep their darkness relative to the paper. A sketch whose
  median is white already, or darker than mid-grey (not paper), is returned as it is.
  """
  img = np.asarray(img, np.uint8)
  paper = float(np.median(img))
  if not _MIN_PAPER <= paper < PAPER_WHITE_BELOW:
    return img
  return np.clip(np.rint(img.astype(np.float32) * (255.0 / paper)), 0, 255).astype(np.uint8)


def normalize_sketch(img):
  """Inverts white-on-black line art so that the paper is white.

  Inverted iff both the border frame and the whole image are darker than mid-grey: a dark
  frame alone (a drawn border) or a dark centre alone (a filled figure) is left as is.
  """
  img = np.asarray(img, np.uint8)
  h, w = img.shape[:2]
  b = max(1, min(h, w) // 32)
  border = np.concatenate([img[:b].ravel(), img[-b:].ravel(), img[:, :b].ravel(),
                           img[:, -b:].ravel()])
  if border.mean() < 127.5 and img.mean() < 127.5:
    return 255 - img
  return img
