"""Part maps in training and evaluation: region-true dots, recolouring, part accuracy."""

import numpy as np

from jaxcolor import color
from jaxcolor import hints
from jaxcolor import metrics
from jaxcolor.data import augment

COLOURS = {2: (230, 190, 160), 3: (40, 30, 120), 4: (200, 30, 40), 5: (30, 160, 60)}


def _drawing(size=64):
  """Four colour parts in quadrants, an ink cross between them, paper at the border."""
  parts = np.zeros((size, size), np.uint8)
  q = size // 2
  parts[4:q, 4:q], parts[4:q, q:-4], parts[q:-4, 4:q], parts[q:-4, q:-4] = 2, 3, 4, 5
  parts[q - 1:q + 1, 4:-4] = parts[4:-4, q - 1:q + 1] = 1
  rgb = np.full((size, size, 3), 255, np.uint8)
  for p, c in COLOURS.items():
    rgb[parts == p] = c
  rgb[parts == 1] = 0
  return rgb, parts


def test_region_points_take_their_parts_colour_as_discs():
  rgb, parts = _drawing()
  planes = hints.region_points(rgb, parts, np.random.default_rng(0), 12, radius=2)
  on = planes[..., 3] > 0
  assert on.sum() > 12  # discs, not single pixels
  # Every dot's colour is the colour of the part under its centre's part: a colour of
  # the drawing's parts, never paper or ink.
  got = {tuple(color.to_uint8(v)) for v in planes[on, :3]}
  assert got <= {tuple(c) for c in COLOURS.values()}


def test_region_points_dot_the_paper_white_only_when_asked():
  rgb, parts = _drawing()
  colours = lambda planes: {tuple(color.to_uint8(v)) for v in planes[planes[..., 3] > 0, :3]}
  off = hints.region_points(rgb, parts, np.random.default_rng(1), 40, radius=1)
  on = hints.region_points(rgb, parts, np.random.default_rng(1), 40, radius=1, paper_id=0)
  assert (255, 255, 255) not in colours(off)
  assert (255, 255, 255) in colours(on) and (0, 0, 0) not in colours(on)  # never the ink
  assert colours(on) <= {tuple(c) for c in COLOURS.values()} | {(255, 255, 255)}


def test_recoloured_parts_move_exactly_and_get_a_dot_each():
  rgb, parts = _drawing()
  new, changed = augment.recolor_parts(rgb, parts, np.random.default_rng(3), share=1.0)
  assert sorted(changed) == [2, 3, 4, 5]
  np.testing.assert_array_equal(new[parts < 2], rgb[parts < 2])  # ink and paper stay
  for p in changed:
    assert len(np.unique(new[parts == p], axis=0)) == 1  # a flat part stays flat
  planes = hints.region_points(new, parts, np.random.default_rng(0), 0, radius=1, must=changed)
  dotted = {int(parts[y, x]) for y, x in zip(*np.nonzero(planes[..., 3]))}
  assert set(changed) <= dotted
  for p in changed:  # the dot on a recoloured part gives its new colour
    ys, xs = np.nonzero((planes[..., 3] > 0) & (parts == p))
    np.testing.assert_array_equal(color.to_uint8(planes[ys[0], xs[0], :3]), new[parts == p][0])


def test_part_accuracy_separates_a_perfect_output_from_grey_and_one_hue():
  rgb, parts = _drawing()
  gt = color.to_float(rgb)[None]
  p = parts[None]
  assert metrics.part_accuracy(gt, gt, p)[0] == 1.0
  grey = np.zeros_like(gt)
  # One colour everywhere: only the part whose colour is nearest it counts as right.
  assert metrics.part_accuracy(grey, gt, p)[0] == 0.25
  tint = np.broadcast_to(color.to_float(np.array(COLOURS[4], np.uint8)), gt.shape)
  assert metrics.part_accuracy(tint, gt, p)[0] == 0.25
  # Two parts swapped: both wrong, the other two right.
  swapped = rgb.copy()
  swapped[parts == 2], swapped[parts == 3] = COLOURS[3], COLOURS[2]
  assert metrics.part_accuracy(color.to_float(swapped)[None], gt, p)[0] == 0.5
  # A drawing with one colour part has nothing to tell apart.
  assert np.isnan(metrics.part_accuracy(gt, gt, np.where(parts > 2, 1, parts)[None])[0])


def test_region_eval_dots_sit_inside_the_sketchs_regions_in_their_colour():
  # The dots a user puts on the page: inside a closed region, off the lines, in the
  # region's colour; the pixel protocol also dots lines and paper with their own colour.
  from jaxcolor.data import pipeline  # pylint: disable=import-outside-toplevel

  rgb, parts = _drawing()
  sketch = np.where(parts == 1, 0, 255).astype(np.uint8)
  sketch[:, :2] = sketch[:, -2:] = sketch[:2] = sketch[-2:] = 0  # a frame closes the paper
  planes = pipeline.eval_points(rgb, 30, 5, sketch, "regions")
  on = planes[..., 3] > 0
  assert on.sum() > 30  # discs
  # Every disc centre sits off the lines, so a disc is mostly region; its colour is the
  # region's: a part's colour or the paper's white, never the lines' black.
  assert np.mean(sketch[on] == 255) > 0.8
  region_colours = {tuple(c) for c in COLOURS.values()} | {(255, 255, 255)}
  assert {tuple(color.to_uint8(v)) for v in planes[on, :3]} <= region_colours
  np.testing.assert_array_equal(planes, pipeline.eval_points(rgb, 30, 5, sketch, "regions"))
  pixels = pipeline.eval_points(rgb, 30, 5, sketch, "pixels")
  assert (0, 0, 0) in {tuple(color.to_uint8(v)) for v in pixels[pixels[..., 3] > 0, :3]}
