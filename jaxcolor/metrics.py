"""Image quality metrics in jax.numpy: per-image values for batches (B, H, W, 3) in [-1, 1].

Every function is traceable (usable inside `jax.jit`) and returns one value per image.

- `psnr`: data range 2 (the [-1, 1] span); identical images give `max_db`.
- `ssim`: Wang et al. 2004 with an 11x11 Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03,
  on RGB scaled to [0, 1], averaged over channels and 'valid' window positions (the
  scikit-image `gaussian_weights=True, use_sample_covariance=False` convention).
- `l1`: mean absolute difference in [-1, 1] units.
- `color_histogram_distance`: Hellinger distance between soft 2-D CIELAB a*b* histograms.
- `perceptual_distance` ("vgg_perceptual" in reports): squared distance between unit-length
  VGG16 feature vectors, averaged over positions and layers. Its VGG16 is the HED-tuned trunk
  by default, so it is LPIPS-like, not LPIPS; compare values only with the same weights.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxcolor import color
from jaxcolor.models import vgg

DATA_RANGE = 2.0
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03
PERCEPTUAL_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")

# a*b* range of the sRGB gamut is about [-87, 99] x [-108, 95]; [-110, 110] covers it.
HIST_RANGE = 110.0
HIST_BINS = 16


def _pair(a, b):
  a = jnp.asarray(a, jnp.float32)
  b = jnp.asarray(b, jnp.float32)
  if a.shape != b.shape or a.ndim != 4:
    raise ValueError(f"expected two (B, H, W, C) batches of one shape, got {a.shape} and "
                     f"{b.shape}")
  return a, b


def l1(a, b):
  """Mean absolute difference per image: (B,)."""
  a, b = _pair(a, b)
  return jnp.mean(jnp.abs(a - b), axis=(1, 2, 3))


def psnr(a, b, max_db=100.0):
  """Peak signal-to-noise ratio in dB per image (data range 2), capped at `max_db`."""
  a, b = _pair(a, b)
  mse = jnp.mean(jnp.square(a - b), axis=(1, 2, 3))
  # The cap also stands in for +inf when mse == 0; the max() keeps log10 finite there.
  db = 10.0 * jnp.log10(DATA_RANGE ** 2 / jnp.maximum(mse, 1e-30))
  return jnp.minimum(db, max_db)


def colourfulness(x):
  """Hasler & Suesstrunk (2003) colourfulness per image, (B,); x in [-1, 1], RGB.

  On 0..255 values: rg = R - G, yb = (R + G) / 2 - B,
  M = sqrt(std(rg)^2 + std(yb)^2) + 0.3 sqrt(mean(rg)^2 + mean(yb)^2).
  0 for any grey image; about 30-60 for moderately to quite colourful pictures.
  """
  x = (jnp.asarray(x, jnp.float32) + 1.0) * 127.5
  r, g, b = x[..., 0], x[..., 1], x[..., 2]
  rg, yb = r - g, 0.5 * (r + g) - b
  axes = (1, 2)
  std = jnp.sqrt(jnp.var(rg, axis=axes) + jnp.var(yb, axis=axes))
  mean = jnp.sqrt(jnp.square(jnp.mean(rg, axis=axes)) + jnp.square(jnp.mean(yb, axis=axes)))
  return std + 0.3 * mean


def gaussian_window(size=SSIM_WINDOW, sigma=SSIM_SIGMA):
  """Normalised 1-D Gaussian taps, float32 (size,)."""
  x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
  g = np.exp(-0.5 * (x / sigma) ** 2)
  return (g / g.sum()).astype(np.float32)


def _filter_valid(x, taps):
  """Separable 'valid' filtering of each channel: (N, H, W, 1) -> (N, H-k+1, W-k+1, 1)."""
  k = taps.shape[0]
  dn = ("NHWC", "HWIO", "NHWC")
  hi = jax.lax.Precision.HIGHEST
  x = jax.lax.conv_general_dilated(x, taps.reshape(k, 1, 1, 1), (1, 1), "VALID",
                                   dimension_numbers=dn, precision=hi)
  return jax.lax.conv_general_dilated(x, taps.reshape(1, k, 1, 1), (1, 1), "VALID",
                                      dimension_numbers=dn, precision=hi)


def ssim(a, b):
  """Gaussian-windowed SSIM per image: (B,), 1 for identical images.

  Images smaller than the 11 px window use the largest odd window that fits (same sigma).
  """
  a, b = _pair(a, b)
  n, h, w, c = a.shape
  size = min(SSIM_WINDOW, h, w)
  size -= 1 - size % 2
  taps = jnp.asarray(gaussian_window(size))
  # Channels become batch entries so that one single-channel filter serves all of them.
  to_planes = lambda t: jnp.transpose((t + 1.0) * 0.5, (0, 3, 1, 2)).reshape(n * c, h, w, 1)
  x, y = to_planes(a), to_planes(b)
  mu_x, mu_y = _filter_valid(x, taps), _filter_valid(y, taps)
  var_x = _filter_valid(x * x, taps) - mu_x * mu_x
  var_y = _filter_valid(y * y, taps) - mu_y * mu_y
  cov = _filter_valid(x * y, taps) - mu_x * mu_y
  c1, c2 = SSIM_K1 ** 2, SSIM_K2 ** 2  # data range 1 after scaling
  s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
      (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2))
  return jnp.mean(s.reshape(n, -1), axis=1)


# --------------------------------------------------------------------------- colour


def _soft_coords(v, bins):
  """Linear-interpolation binning of values in [-HIST_RANGE, HIST_RANGE] onto bin centres.

  Returns (lower bin, upper bin, weight of the upper bin); values past the outer centres go
  wholly to the outer bin.
  """
  u = (v + HIST_RANGE) / (2 * HIST_RANGE) * bins - 0.5
  u = jnp.clip(u, 0.0, bins - 1.0)
  lo = jnp.floor(u)
  frac = u - lo
  lo = lo.astype(jnp.int32)
  return lo, jnp.minimum(lo + 1, bins - 1), frac


def ab_histogram(x, bins=HIST_BINS):
  """Soft 2-D a*b* histogram per image, normalised to sum 1: (B, bins, bins)."""
  x = jnp.asarray(x, jnp.float32)
  n = x.shape[0]
  lab = color.rgb_to_lab(jnp.clip((jnp.asarray(x, jnp.float32) + 1.0) * 127.5, 0.0, 255.0))
  lab = lab.reshape(n, -1, 3)
  a0, a1, fa = _soft_coords(lab[..., 1], bins)
  b0, b1, fb = _soft_coords(lab[..., 2], bins)
  rows = jnp.broadcast_to(jnp.arange(n)[:, None], a0.shape)
  hist = jnp.zeros((n, bins * bins), jnp.float32)
  # Bilinear splat: each pixel spreads unit mass over its 4 nearest bin centres.
  for ai, wa in ((a0, 1.0 - fa), (a1, fa)):
    for bi, wb in ((b0, 1.0 - fb), (b1, fb)):
      hist = hist.at[rows, ai * bins + bi].add(wa * wb)
  hist = hist / jnp.sum(hist, axis=1, keepdims=True)
  return hist.reshape(n, bins, bins)


def color_histogram_distance(a, b, bins=HIST_BINS):
  """Colour-distribution distance per image: (B,) in [0, 1].

  Hellinger distance sqrt(1 - sum sqrt(p q)) between the soft a*b* histograms of a and b
  (`bins` x `bins` bins over [-110, 110]^2, bilinear splatting so that small hue shifts
  move the value smoothly). Lightness is ignored: the measure is about which chromas occur
  and how often, not where, so it compares images of different content (output vs. a
  shuffled reference). 0 = same distribution, 1 = no shared chroma.
  """
  a, b = _pair(a, b)
  return hellinger(ab_histogram(a, bins), ab_histogram(b, bins))


def hellinger(p, q):
  """Hellinger distance between histograms (B, ...) -> (B,), each summing to 1."""
  p = jnp.reshape(p, (p.shape[0], -1))
  q = jnp.reshape(q, (q.shape[0], -1))
  # 0.5 * sum (sqrt p - sqrt q)^2 equals 1 - sum sqrt(p q) but has no cancellation.
  return jnp.sqrt(0.5 * jnp.sum(jnp.square(jnp.sqrt(p) - jnp.sqrt(q)), axis=1))


# --------------------------------------------------------------------------- perceptual


def perceptual_features(vgg_params, x, layers=PERCEPTUAL_LAYERS):
  """VGG16 features of x, unit-normalised along channels: {layer: (B, h, w, C)}."""
  layers = tuple(layers)
  feats = vgg.VGG16Features().apply({"params": vgg_params}, jnp.asarray(x, jnp.float32),
                                    layers)
  out = {}
  for name in layers:
    f = feats[name].astype(jnp.float32)
    norm = jnp.sqrt(jnp.sum(f * f, axis=-1, keepdims=True))
    out[name] = f / (norm + 1e-10)
  return out


def perceptual_distance_from_features(fa, fb):
  """Per-image distance of two `perceptual_features` results: (B,)."""
  per_layer = [jnp.mean(jnp.sum(jnp.square(fa[k] - fb[k]), axis=-1), axis=(1, 2))
               for k in fa]
  return jnp.mean(jnp.stack(per_layer), axis=0)


def perceptual_distance(vgg_params, a, b, layers=PERCEPTUAL_LAYERS):
  """"vgg_perceptual" per image: (B,), 0 for identical images, at most 4.

  For each layer, features are scaled to unit length along channels (so each layer weighs
  the same whatever its activation scale), the squared Euclidean distance of the two
  unit vectors is averaged over positions, and the layers are averaged.
  """
  a, b = _pair(a, b)
  n = a.shape[0]
  # One VGG pass over both batches: half the dispatches, same result.
  feats = perceptual_features(vgg_params, jnp.concatenate([a, b]), layers)
  fa = {k: v[:n] for k, v in feats.items()}
  fb = {k: v[n:] for k, v in feats.items()}
  return perceptual_distance_from_features(fa, fb)


@functools.partial(jax.jit, static_argnames=("max_db",))
def paired_metrics(a, b, max_db=100.0):
  """Jitted {psnr, ssim, l1} per image of a vs. b (no VGG)."""
  return {"psnr": psnr(a, b, max_db), "ssim": ssim(a, b), "l1": l1(a, b)}


# Part ids below this are paper (0) and ink (1); smaller parts are too few pixels for a
# stable median after resizing.
FIRST_COLOR_PART = 2
MIN_PART_PIXELS = 16


def part_accuracy(output, target, parts, min_pixels=MIN_PART_PIXELS):
  """Per image: the share of colour parts whose median output colour (CIELAB) lies nearer
  that part's own ground-truth colour than any other part's. numpy, host side.

  output, target: (B, H, W, 3) in [-1, 1]; parts: (B, H, W) part ids (0 paper, 1 ink,
  2.. colour parts). Parts whose ground-truth colours are equal count as right for
  each other. A model that paints the whole figure one colour scores about one over the
  number of parts. Images with fewer than two colour parts give NaN (nothing to tell
  apart). Returns (B,) float64.
  """
  to_lab = lambda x: color.rgb_to_lab((np.asarray(x, np.float64) + 1.0) * 127.5)
  out_lab, tgt_lab = to_lab(output), to_lab(target)
  parts = np.asarray(parts).astype(np.int64)
  scores = np.full(parts.shape[0], np.nan)
  for b in range(parts.shape[0]):
    ids, counts = np.unique(parts[b], return_counts=True)
    ids = ids[(ids >= FIRST_COLOR_PART) & (counts >= min_pixels)]
    if len(ids) < 2:
      continue
    masks = [parts[b] == p for p in ids]
    want = np.stack([np.median(tgt_lab[b][m], axis=0) for m in masks])
    got = np.stack([np.median(out_lab[b][m], axis=0) for m in masks])
    dist = np.linalg.norm(got[:, None, :] - want[None, :, :], axis=-1)
    scores[b] = np.mean(np.diag(dist) <= dist.min(axis=1) + 1e-9)
  return scores
