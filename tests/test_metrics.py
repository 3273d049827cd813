"""Metrics against known values and a straightforward scipy SSIM."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image
from scipy import signal

from jaxcolor import color
from jaxcolor import metrics
from jaxcolor.models import vgg


def _rng(seed=0):
  return np.random.default_rng(seed)


def _blocks(seed=0, n=1, size=48, cell=8):
  """Random saturated colour blocks in [-1, 1]: a colourful test image."""
  g = _rng(seed).uniform(-1, 1, (n, size // cell, size // cell, 3)).astype(np.float32)
  return np.repeat(np.repeat(g, cell, axis=1), cell, axis=2)


def _ssim_reference(a, b):
  """Textbook SSIM: explicit 2-D Gaussian window, float64, 'valid' correlation."""
  taps = np.exp(-0.5 * ((np.arange(11) - 5) / 1.5) ** 2)
  win = np.outer(taps, taps)
  win /= win.sum()
  c1, c2 = 0.01 ** 2, 0.03 ** 2
  out = []
  for x_img, y_img in zip(a, b):
    vals = []
    for c in range(x_img.shape[-1]):
      x = (x_img[..., c].astype(np.float64) + 1) / 2
      y = (y_img[..., c].astype(np.float64) + 1) / 2
      f = lambda t: signal.correlate2d(t, win, mode="valid")
      mx, my = f(x), f(y)
      vx, vy, cxy = f(x * x) - mx ** 2, f(y * y) - my ** 2, f(x * y) - mx * my
      s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))
      vals.append(s.mean())
    out.append(np.mean(vals))
  return np.array(out)


def test_identical_images():
  a = _blocks(1, n=2)
  np.testing.assert_array_equal(metrics.psnr(a, a), [100.0, 100.0])
  np.testing.assert_array_equal(metrics.psnr(a, a, max_db=60.0), [60.0, 60.0])
  np.testing.assert_allclose(metrics.ssim(a, a), [1.0, 1.0], atol=1e-6)
  np.testing.assert_array_equal(metrics.l1(a, a), [0.0, 0.0])
  np.testing.assert_array_equal(metrics.color_histogram_distance(a, a), [0.0, 0.0])


def test_psnr_of_gaussian_noise():
  flat = np.zeros((1, 256, 256, 3), np.float32)
  for sigma in (0.02, 0.1):
    noisy = flat + _rng(2).normal(0, sigma, flat.shape).astype(np.float32)
    expected = 20 * np.log10(2.0 / sigma)
    assert abs(float(metrics.psnr(noisy, flat)[0]) - expected) < 0.3


def test_l1_known_value():
  a = np.zeros((1, 8, 8, 3), np.float32)
  np.testing.assert_allclose(metrics.l1(a, a + 0.25), [0.25])


def test_ssim_decreases_with_noise():
  clean = _blocks(3, size=64)
  values = []
  for sigma in (0.0, 0.05, 0.2, 0.5):
    noisy = np.clip(clean + _rng(4).normal(0, sigma, clean.shape), -1, 1).astype(np.float32)
    values.append(float(metrics.ssim(noisy, clean)[0]))
  assert values[0] == pytest.approx(1.0, abs=1e-6)
  assert all(x > y for x, y in zip(values, values[1:])), values


def test_ssim_matches_scipy_reference():
  rng = _rng(5)
  a = rng.uniform(-1, 1, (2, 37, 29, 3)).astype(np.float32)
  b = np.clip(a + rng.normal(0, 0.3, a.shape), -1, 1).astype(np.float32)
  got = np.asarray(jax.jit(metrics.ssim)(a, b))
  np.testing.assert_allclose(got, _ssim_reference(a, b), atol=1e-4)
  np.testing.assert_allclose(metrics.ssim(a, b), metrics.ssim(b, a), atol=1e-6)


def test_ssim_small_image_uses_smaller_window():
  a = _rng(6).uniform(-1, 1, (1, 7, 9, 3)).astype(np.float32)
  assert np.isfinite(metrics.ssim(a, a * 0.5)[0])
  np.testing.assert_allclose(metrics.ssim(a, a), [1.0], atol=1e-6)


def test_rgb_to_lab_in_jax_matches_numpy():
  rgb = _rng(7).integers(0, 256, (50, 3)).astype(np.uint8)
  got = jax.jit(color.rgb_to_lab)(jnp.asarray(rgb, jnp.float32))
  assert got.dtype == jnp.float32
  np.testing.assert_allclose(got, color.rgb_to_lab(rgb), atol=2e-3)


def test_luma_in_jax_matches_numpy_and_pil():
  rgb = _rng(8).integers(0, 256, (6, 5, 3)).astype(np.uint8)
  host = color.luma(rgb)
  np.testing.assert_allclose(jax.jit(color.luma)(jnp.asarray(rgb, jnp.float32)), host, rtol=1e-6)
  pil = np.asarray(Image.fromarray(rgb).convert("L"), np.float32)
  np.testing.assert_allclose(host, pil, atol=0.51)


def _hue_rotate(x, degrees):
  """Rotates hue in YIQ space (keeps luma), for images in [-1, 1]."""
  yiq = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
  t = np.deg2rad(degrees)
  rot = np.array([[1, 0, 0], [0, np.cos(t), -np.sin(t)], [0, np.sin(t), np.cos(t)]])
  m = np.linalg.inv(yiq) @ rot @ yiq
  rgb = (x + 1) / 2
  return np.clip((rgb @ m.T) * 2 - 1, -1, 1).astype(np.float32)


def test_color_histogram_distance_grows_with_hue_shift():
  a = _blocks(8, n=2, size=64)
  small = metrics.color_histogram_distance(a, _hue_rotate(a, 10))
  large = metrics.color_histogram_distance(a, _hue_rotate(a, 120))
  assert np.all(np.asarray(small) > 0.0)
  assert np.all(np.asarray(large) > np.asarray(small))
  assert np.all(np.asarray(large) > 0.3)
  assert np.all(np.asarray(large) <= 1.0)
  hist = metrics.ab_histogram(a)
  np.testing.assert_allclose(jnp.sum(hist, axis=(1, 2)), [1.0, 1.0], atol=1e-5)


def test_perceptual_distance():
  params = vgg.load_vgg16_params()
  a = _blocks(9, n=2, size=32)
  noisy = np.clip(a + _rng(10).normal(0, 0.3, a.shape), -1, 1).astype(np.float32)
  fn = jax.jit(metrics.perceptual_distance)
  np.testing.assert_allclose(fn(params, a, a), [0.0, 0.0], atol=1e-6)
  d = np.asarray(fn(params, a, noisy))
  assert np.all(d > 0) and np.all(d <= 4.0)


def test_paired_metrics_jitted_shapes():
  a, b = _blocks(11, n=3, size=32), _blocks(12, n=3, size=32)
  m = metrics.paired_metrics(a, b)
  assert set(m) == {"psnr", "ssim", "l1"}
  assert all(v.shape == (3,) for v in m.values())


def test_shape_mismatch_raises():
  with pytest.raises(ValueError, match="one shape"):
    metrics.psnr(np.zeros((1, 8, 8, 3)), np.zeros((1, 8, 9, 3)))
