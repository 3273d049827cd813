"""Tests for jaxcolor.sketch (XDoG and sketch clean-up)."""

import numpy as np
import pytest

from jaxcolor import sketch
from jaxcolor.errors import UserError


def _square(value, size=64, lo=20, hi=44):
  img = np.ones((size, size), np.float32)
  img[lo:hi, lo:hi] = value
  return img


def test_xdog_black_square_edges_dark_far_white():
  out = sketch.xdog(_square(0.0))
  assert out.dtype == np.float32 and out.shape == (64, 64)
  assert out.min() >= 0.0 and out.max() <= 1.0
  edge = np.concatenate([out[20, 20:44], out[43, 20:44], out[20:44, 20], out[20:44, 43]])
  assert (edge < 0.1).all()
  assert (out[:10] == 1.0).all() and (out[:, :10] == 1.0).all()


def test_xdog_grey_square_gives_outline_not_fill():
  out = sketch.xdog(_square(0.5))
  assert out[20, 30] < 0.1 and out[30, 20] < 0.1  # inner side of the edge
  assert out[32, 32] == 1.0  # flat mid-grey interior stays paper
  assert out[5, 5] == 1.0


def test_random_params_reproducible_and_varied():
  a = sketch.random_xdog_params(np.random.default_rng(1))
  assert a == sketch.random_xdog_params(np.random.default_rng(1))
  assert a != sketch.random_xdog_params(np.random.default_rng(2))
  for seed in range(20):
    p = sketch.random_xdog_params(np.random.default_rng(seed))
    assert 0.3 <= p["sigma"] <= 0.5 and 0.6 <= p["intensity"] <= 1.0
    assert p["thickness"] in (0, 1)


def test_sketch_from_color():
  rgb = np.full((48, 48, 3), 255, np.uint8)
  rgb[12:36, 12:36] = (200, 60, 60)
  s0 = sketch.sketch_from_color(rgb)
  assert s0.dtype == np.uint8 and s0.shape == (48, 48)
  np.testing.assert_array_equal(s0, sketch.sketch_from_color(rgb))
  assert s0[0, 0] == 255 and s0[12:36, 12].min() < 64 and s0[24, 24] == 255
  r1 = sketch.sketch_from_color(rgb, np.random.default_rng(5))
  np.testing.assert_array_equal(r1, sketch.sketch_from_color(rgb, np.random.default_rng(5)))
  outs = {sketch.sketch_from_color(rgb, np.random.default_rng(s)).tobytes() for s in range(6)}
  assert len(outs) > 1
  with pytest.raises(UserError, match="hed"):
    sketch.sketch_from_color(rgb, method="hed")


def test_augment_sketch():
  s = np.full((32, 32), 255, np.uint8)
  s[16, 4:28] = 0
  a = sketch.augment_sketch(s, np.random.default_rng(3))
  assert a.dtype == np.uint8 and a.shape == s.shape
  np.testing.assert_array_equal(a, sketch.augment_sketch(s, np.random.default_rng(3)))
  outs = {sketch.augment_sketch(s, np.random.default_rng(i)).tobytes() for i in range(8)}
  assert len(outs) > 4
  assert all(sketch.augment_sketch(s, np.random.default_rng(i))[2, 2] >= 250 for i in range(8))


def test_cleanup_sketch():
  s = np.full((32, 32), 250, np.uint8)
  s[:, 15:17] = 200  # a faint line
  sharp = sketch.cleanup_sketch(s)
  assert sharp[16, 15] < 200 and sharp[16, 2] >= 250
  binary = sketch.cleanup_sketch(s, threshold=225)
  assert set(np.unique(binary)) == {0, 255}
  assert binary[16, 15] == 0 and binary[16, 2] == 255


def test_whiten_paper_makes_grey_paper_white_and_leaves_white_paper_alone():
  white = np.full((40, 40), 255, np.uint8)
  white[20, 5:35] = 0
  white[10, 5:35] = 128
  np.testing.assert_array_equal(sketch.whiten_paper(white), white)
  grey = np.rint(white * (200 / 255)).astype(np.uint8)  # a scan on grey paper
  fixed = sketch.whiten_paper(grey)
  assert fixed[0, 0] == 255 and fixed[20, 10] == 0
  assert abs(int(fixed[10, 10]) - 128) <= 1  # lines keep their darkness against the paper
  almost = np.where(white == 255, 252, white).astype(np.uint8)  # near-white: as it is
  np.testing.assert_array_equal(sketch.whiten_paper(almost), almost)
  dark = np.full((40, 40), 90, np.uint8)  # not paper: a photo or a filled shape
  np.testing.assert_array_equal(sketch.whiten_paper(dark), dark)


def test_normalize_sketch():
  white_on_black = np.zeros((40, 40), np.uint8)
  white_on_black[20, 5:35] = 255
  fixed = sketch.normalize_sketch(white_on_black)
  assert fixed[0, 0] == 255 and fixed[20, 10] == 0
  normal = 255 - white_on_black
  np.testing.assert_array_equal(sketch.normalize_sketch(normal), normal)
  framed = np.full((40, 40), 255, np.uint8)
  framed[:3], framed[-3:], framed[:, :3], framed[:, -3:] = 0, 0, 0, 0
  np.testing.assert_array_equal(sketch.normalize_sketch(framed), framed)
