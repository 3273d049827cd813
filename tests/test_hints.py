"""Tests for jaxcolor.hints on small hand-made references."""

import numpy as np
import pytest

from jaxcolor import color
from jaxcolor import hints
from jaxcolor.errors import UserError

# Eight colours that fall in eight different coarse buckets (luma / hue / saturation).
WHITE, BLACK, RED, GREEN = (255, 255, 255), (0, 0, 0), (255, 0, 0), (0, 255, 0)
BLUE, YELLOW, GREY, MAGENTA = (0, 0, 255), (255, 255, 0), (128, 128, 128), (255, 0, 255)


def _strip(colors, rows=(4, 3, 2, 1), width=20):
  """A 10-row strip: colours[i] fills rows[i] rows, so counts rank them in order."""
  return np.concatenate([np.full((n, width, 3), c, np.uint8) for c, n in zip(colors, rows)])


def test_hint_channels_and_unknown_kind():
  assert hints.hint_channels("palette") == 27
  assert hints.hint_channels("histogram") == 12
  with pytest.raises(UserError, match="sketchy.*histogram.*palette"):
    hints.hint_channels("sketchy")


def test_histogram_exact_flat_colours_and_drop_background():
  strips = [[WHITE, RED, GREEN, BLUE], [BLACK, YELLOW, GREY, MAGENTA],
            [RED, BLUE, WHITE, BLACK], [GREEN, MAGENTA, YELLOW, GREY]]
  ref = np.concatenate([_strip(s) for s in strips])
  out = hints.histogram_colors(ref)
  assert out.dtype == np.uint8 and out.shape == (4, 4, 3)
  np.testing.assert_array_equal(out, np.array(strips, np.uint8))
  dropped = hints.histogram_colors(ref, drop_background=True)
  # The most frequent colour goes; the 3 left repeat cyclically.
  expected = [[s[1], s[2], s[3], s[1]] for s in strips]
  np.testing.assert_array_equal(dropped, np.array(expected, np.uint8))


def test_histogram_few_colours_repeat_without_crash():
  ref = np.concatenate([_strip([RED, GREEN, BLUE], rows=(5, 3, 2)), _strip([WHITE], rows=(10,)),
                        _strip([BLACK, YELLOW], rows=(6, 4)), _strip([GREY], rows=(10,))])
  out = hints.histogram_colors(ref)
  np.testing.assert_array_equal(out[0], [RED, GREEN, BLUE, RED])
  np.testing.assert_array_equal(out[1], [WHITE] * 4)
  np.testing.assert_array_equal(out[2], [BLACK, YELLOW, BLACK, YELLOW])
  # A single-colour strip keeps its colour even when the background is dropped.
  np.testing.assert_array_equal(hints.histogram_colors(ref, drop_background=True)[3], [GREY] * 4)


def test_histogram_uses_mean_colour_and_strip_bounds():
  # h = 10: strips are rows 0:2, 2:5, 5:7, 7:10, the same rows hint_planes paints.
  ref = np.zeros((10, 6, 3), np.uint8)
  for j, (a, b) in enumerate(zip(hints.strip_bounds(10)[:-1], hints.strip_bounds(10)[1:])):
    ref[a:b] = (40 * j + 20, 10, 10)
  ref[7:10, :3] = (200, 10, 10)
  ref[7:10, 3:] = (204, 12, 10)
  out = hints.histogram_colors(ref)
  for j in range(3):
    np.testing.assert_array_equal(out[j], [(40 * j + 20, 10, 10)] * 4)
  # Two near colours share a bucket: its colour is their mean.
  np.testing.assert_array_equal(out[3, 0], (202, 11, 10))
  assert hints.histogram_colors(np.zeros((2, 3, 3), np.uint8)).shape == (4, 4, 3)


def test_histogram_ties_are_deterministic():
  ref = np.concatenate([_strip([RED, BLUE], rows=(5, 5))] * 4)
  a = hints.histogram_colors(ref)
  b = hints.histogram_colors(ref[:, ::-1].copy())
  np.testing.assert_array_equal(a, b)


def _blocks(colors, block=32, noise=0, seed=0):
  grid = np.array(colors, np.uint8).reshape(3, 3, 3)
  img = np.repeat(np.repeat(grid, block, 0), block, 1).astype(np.int16)
  if noise:
    img += np.random.default_rng(seed).integers(-noise, noise + 1, img.shape, dtype=np.int16)
  return np.clip(img, 0, 255).astype(np.uint8)


NINE = [(230, 40, 40), (40, 200, 60), (50, 60, 220), (250, 240, 120), (20, 20, 20),
        (200, 200, 200), (120, 60, 160), (250, 150, 200), (90, 140, 110)]


def test_palette_recovers_nine_blocks_in_sorted_order():
  expected = hints.sort_colors(np.array(NINE, np.uint8))
  exact = hints.palette_colors(_blocks(NINE))
  np.testing.assert_array_equal(exact, expected)
  # With noise the K-means path runs; centres land within a few levels of the blocks.
  noisy = _blocks(NINE, noise=6)
  out = hints.palette_colors(noisy, seed=3)
  assert out.shape == (9, 3) and out.dtype == np.uint8
  assert np.abs(out.astype(int) - expected.astype(int)).max() <= 3
  np.testing.assert_array_equal(out, hints.palette_colors(noisy, seed=3))
  lab = hints.palette_colors(noisy, seed=3, color_space="lab")
  assert np.abs(lab.astype(int) - expected.astype(int)).max() <= 3


def test_palette_fewer_colours_than_k():
  img = np.zeros((16, 16, 3), np.uint8)
  img[:, 8:] = RED
  out = hints.palette_colors(img)
  assert out.shape == (9, 3)
  assert {tuple(c) for c in out} == {BLACK, RED}


def test_palette_lab_keeps_dark_colours_apart():
  dark = [(12, 8, 8), (8, 14, 8), (8, 8, 18), (22, 10, 16), (6, 18, 20), (26, 22, 6),
          (16, 16, 16), (30, 8, 8), (4, 4, 4)]
  img = _blocks(dark, noise=1)
  # A large bright region takes most pixels, as in a dark character on paper.
  ref = np.full((96, 288, 3), 245, np.uint8)
  ref[:, :96] = img
  ref[:, 96:192] = (235, 225, 210)
  lab = hints.palette_colors(ref, color_space="lab")
  rgb = hints.palette_colors(ref, color_space="rgb")
  n_dark = lambda p: len({tuple(c) for c in p if max(c) < 60})
  assert n_dark(lab) >= 6
  assert n_dark(lab) >= n_dark(rgb)


def test_rgb_lab_round_trip():
  np.testing.assert_allclose(color.rgb_to_lab([255, 255, 255]), [100, 0, 0], atol=0.01)
  c = np.random.default_rng(0).integers(0, 256, (100, 3))
  np.testing.assert_allclose(color.lab_to_rgb(color.rgb_to_lab(c)), c, atol=1e-6)


def test_palette_bad_arguments():
  img = np.zeros((8, 8, 3), np.uint8)
  with pytest.raises(UserError, match="hsv"):
    hints.palette_colors(img, color_space="hsv")
  with pytest.raises(UserError):
    hints.palette_colors(np.zeros((8, 8), np.uint8))


def test_parse_palette():
  out = hints.parse_palette("#fff, 000000  #a1B2c3", k=3)
  np.testing.assert_array_equal(out, [(255, 255, 255), (0, 0, 0), (0xA1, 0xB2, 0xC3)])
  nine = hints.parse_palette("f00,0f0")
  assert nine.shape == (9, 3) and nine.dtype == np.uint8
  np.testing.assert_array_equal(nine[::2], [(255, 0, 0)] * 5)
  for bad in ("#ggg", "#12345", "red", "##fff"):
    with pytest.raises(UserError, match=bad.replace("#", "\\#")):
      hints.parse_palette(f"#fff {bad}")
  with pytest.raises(UserError, match="at most 2"):
    hints.parse_palette("#fff #000 #111", k=2)
  with pytest.raises(UserError):
    hints.parse_palette("  ")


def test_float_uint8_round_trip():
  c = np.arange(256, dtype=np.uint8)
  f = color.to_float(c)
  assert f.dtype == np.float32 and f.min() == -1.0 and f.max() == 1.0
  np.testing.assert_array_equal(color.to_uint8(f), c)


def test_hint_planes_layout_numpy_and_jax_agree():
  rng = np.random.default_rng(0)
  pal = rng.uniform(-1, 1, (2, 9, 3)).astype(np.float32)
  p = hints.hint_planes_np("palette", pal, 5, 7)
  assert p.shape == (2, 5, 7, 27)
  for b, y, x, i, c in [(0, 0, 0, 0, 0), (1, 4, 6, 8, 2), (0, 2, 3, 4, 1)]:
    assert p[b, y, x, 3 * i + c] == pal[b, i, c]
  hist = rng.uniform(-1, 1, (2, 4, 4, 3)).astype(np.float32)
  h = 10
  q = hints.hint_planes_np("histogram", hist, h, 3)
  assert q.shape == (2, h, 3, 12)
  strip_of_row = [0, 0, 1, 1, 1, 2, 2, 3, 3, 3]  # bounds 0, 2, 5, 7, 10
  for b in range(2):
    for y in range(h):
      for i in range(4):
        np.testing.assert_array_equal(q[b, y, 1, 3 * i:3 * i + 3], hist[b, strip_of_row[y], i])
  np.testing.assert_array_equal(np.asarray(hints.hint_planes("palette", pal, 5, 7)), p)
  np.testing.assert_array_equal(np.asarray(hints.hint_planes("histogram", hist, h, 3)), q)
  # Unbatched colours work too.
  assert hints.hint_planes_np("histogram", hist[0], 8, 8).shape == (8, 8, 12)


def test_compute_hint_and_swatch():
  ref = _blocks(NINE)
  assert hints.compute_hint("palette", ref, seed=1).shape == (9, 3)
  assert hints.compute_hint("histogram", ref, drop_background=True).shape == (4, 4, 3)
  with pytest.raises(UserError):
    hints.compute_hint("nope", ref)
  sw = hints.swatch_image("palette", hints.compute_hint("palette", ref))
  assert sw.size == (9 * 32, 32) and sw.mode == "RGB"
  hist = hints.compute_hint("histogram", ref)
  sw = np.asarray(hints.swatch_image("histogram", hist))
  assert sw.shape == (128, 128, 3)
  np.testing.assert_array_equal(sw[32 * 2 + 5, 32 * 3 + 5], hist[2, 3])
