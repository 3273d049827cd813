"""Tests for jaxcolor.data.augment."""

import numpy as np

from jaxcolor.data import augment


def _image(h=64, w=80):
  y, x = np.mgrid[0:h, 0:w]
  return np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x + y) % 256], -1).astype(np.uint8)


def test_crop_params_within_bounds():
  rng = np.random.default_rng(0)
  for h, w in [(64, 80), (256, 256), (10, 1000), (1000, 10), (1, 1)]:
    for _ in range(50):
      top, left, ch, cw = augment.random_resized_crop_params(rng, h, w)
      assert 0 <= top and 0 <= left and ch >= 1 and cw >= 1
      assert top + ch <= h and left + cw <= w
  for _ in range(50):
    top, left, ch, cw = augment.random_resized_crop_params(rng, 256, 256)
    assert 0.45 <= ch * cw / 256 ** 2 <= 1.0
    assert 0.7 <= cw / ch <= 1.4
  a = augment.random_resized_crop_params(np.random.default_rng(7), 100, 120)
  assert a == augment.random_resized_crop_params(np.random.default_rng(7), 100, 120)


def test_crop_resize_same_geometry_for_colour_and_sketch():
  img = _image()
  box = augment.random_resized_crop_params(np.random.default_rng(1), 64, 80)
  color = augment.crop_resize(img, box, 32)
  gray = augment.crop_resize(img[..., 0], box, 32)
  assert color.shape == (32, 32, 3) and gray.shape == (32, 32) and color.dtype == np.uint8
  np.testing.assert_array_equal(color[..., 0], gray)
  assert augment.crop_resize(img[..., :1], box, (16, 24)).shape == (16, 24, 1)
  np.testing.assert_array_equal(augment.crop_resize(img, (0, 0, 64, 80), (64, 80)), img)
  np.testing.assert_array_equal(augment.hflip(img)[:, 0], img[:, -1])


def test_color_jitter():
  img = _image()
  same = augment.color_jitter(img, np.random.default_rng(0), 0, 0, 0, 0)
  np.testing.assert_array_equal(same, img)
  a = augment.color_jitter(img, np.random.default_rng(3))
  assert a.dtype == np.uint8 and a.shape == img.shape
  np.testing.assert_array_equal(a, augment.color_jitter(img, np.random.default_rng(3)))
  assert not np.array_equal(a, img)
  assert np.abs(a.astype(int) - img).mean() < 40  # a jitter, not a new picture


def test_tps_identity_when_unshifted():
  img = _image()
  out = augment.tps_warp(img, np.random.default_rng(0), shift=0.0)
  np.testing.assert_array_equal(out, img)


def test_tps_fixes_corners_and_hits_control_points():
  for seed in range(5):
    src, dst = augment.tps_control_points(np.random.default_rng(seed))
    np.testing.assert_array_equal(src[:4], dst[:4])
    assert 0.3 <= src[4, 0] < src[5, 0] <= 0.7 and src[5, 0] - src[4, 0] >= 0.2 - 1e-9
    assert np.abs(dst[4:] - src[4:]).max() <= 0.25
    np.testing.assert_allclose(augment.tps_transform(dst, dst, src), src, atol=1e-9)
  # Grid evaluation used by the warp matches the general path.
  xs = (np.arange(16) + 0.5) / 16
  grid = np.stack(np.meshgrid(xs, xs), -1)
  mx, my = augment._tps_grid(dst, src, xs, xs)  # pylint: disable=protected-access
  ref = augment.tps_transform(grid, dst, src)
  np.testing.assert_allclose(np.stack([mx, my], -1), ref, atol=1e-5)


def test_tps_warp_reproducible_and_white_border():
  img = np.zeros((64, 64, 3), np.uint8)
  outs = [augment.tps_warp(img, np.random.default_rng(s)) for s in range(5)]
  np.testing.assert_array_equal(outs[0], augment.tps_warp(img, np.random.default_rng(0)))
  assert any((o == 255).all(-1).any() for o in outs)  # pulled-in border is paper
  # The corner points are fixed, so corner pixels move by well under half a pixel.
  for o in outs:
    assert o[[0, 0, -1, -1], [0, -1, 0, -1]].max() < 128


def test_augmented_reference():
  img = _image(64, 64)
  a = augment.augmented_reference(img, np.random.default_rng(4))
  assert a.shape == img.shape and a.dtype == np.uint8
  np.testing.assert_array_equal(a, augment.augmented_reference(img, np.random.default_rng(4)))
  assert not np.array_equal(a, img)


def test_warp_match_says_which_cell_each_warped_cell_shows():
  # Every 16x16 cell its own colour: the warped image's cell centres show the colour of
  # the cell warp_match names, unless the centre lands within a pixel of a cell border
  # (bilinear blending). Swapping the spline's direction scores under 0.45 here.
  rows = cols = 8
  ids = np.arange(rows * cols).reshape(rows, cols)
  img = np.stack([ids * 3, ids * 5 % 256, 255 - ids], -1).astype(np.uint8)
  img = img.repeat(16, 0).repeat(16, 1)
  for seed in range(4):
    rng = np.random.default_rng(seed)
    warped, match = augment.tps_warp(img, rng, match_cells=(rows, cols))
    np.testing.assert_array_equal(warped, augment.tps_warp(img, np.random.default_rng(seed)))
    # No extra draws: the stream after the warp is the one without match_cells.
    plain = np.random.default_rng(seed)
    augment.tps_warp(img, plain)
    assert rng.integers(2**31) == plain.integers(2**31)
    centre = warped[8::16, 8::16].reshape(-1, 3)
    inside = match >= 0
    assert inside.sum() >= 0.8 * rows * cols
    shown = img[8::16, 8::16].reshape(-1, 3)[match[inside]]
    assert (centre[inside] == shown).all(-1).mean() >= 0.8
  # Unshifted control points: every cell shows itself.
  src, dst = augment.tps_control_points(np.random.default_rng(0), shift=0.0)
  np.testing.assert_array_equal(augment.warp_match(src, dst, 4, 6), np.arange(24))


def test_warp_match_marks_cells_from_outside_the_image():
  src = np.array([[0, 0], [1, 0], [0, 1], [1, 1], [0.4, 0.4], [0.6, 0.6]], float)
  dst = src * 0.6 + 0.2  # content shrinks to the middle: the border comes from outside
  match = augment.warp_match(src, dst, 8, 8).reshape(8, 8)
  # The spline through affinely placed points is that affine map: centre c comes from
  # (c - 0.2) / 0.6, outside [0, 1) for the outer two rings of cells (and no centre
  # comes from within a quarter cell of a border, where rounding would decide).
  come_from = ((np.arange(8) + 0.5) / 8 - 0.2) / 0.6
  cell = np.where((come_from >= 0) & (come_from < 1), np.floor(come_from * 8), -1)
  expected = np.where((cell[:, None] >= 0) & (cell[None, :] >= 0),
                      cell[:, None] * 8 + cell[None, :], augment.NO_MATCH)
  np.testing.assert_array_equal(match, expected)
  assert (match == augment.NO_MATCH).sum() == 64 - 16
