"""paint.upscale: a small result's colours brought up under a large sketch's own lines."""

import numpy as np
from PIL import Image, ImageDraw

from jaxcolor.paint import regions as regions_lib
from jaxcolor.paint import upscale

RED, BLUE = (220, 40, 40), (40, 60, 200)


def split_square(size=256, line=3):
  """A sketch: a closed square whose vertical line at x = 100 splits it in two."""
  img = Image.new("L", (size, size), 255)
  d = ImageDraw.Draw(img)
  d.rectangle((20, 20, size - 21, size - 21), outline=0, width=line)
  d.line((100, 20, 100, size - 21), fill=0, width=line)
  return np.asarray(img).copy()


def small_result(sketch, side):
  """What a model would give at `side`: red left of the line, blue right, lines drawn."""
  small_sketch = np.asarray(Image.fromarray(sketch).resize((side, side), Image.Resampling.LANCZOS))
  rgb = np.full((side, side, 3), 255.0)
  cut = 100 * side / sketch.shape[1]
  inside = slice(int(np.ceil(20 * side / sketch.shape[0])), int(side - 20 * side / sketch.shape[0]))
  xs = np.arange(side)
  rgb[inside, inside][:, xs[inside] < cut] = RED
  rgb[inside, inside][:, xs[inside] >= cut] = BLUE
  rgb = rgb * small_sketch[..., None] / 255.0
  return np.rint(rgb).astype(np.uint8), small_sketch


def test_colours_stop_at_the_sketchs_lines_not_a_small_pixel_away():
  sketch = split_square()
  small, small_sketch = small_result(sketch, 32)
  labels = regions_lib.segment(sketch).labels
  out = upscale.under_lines(small, small_sketch, sketch, labels).astype(int)
  plain = np.asarray(Image.fromarray(small).resize((256, 256), Image.Resampling.BILINEAR))
  band = slice(60, 200)
  # The 12 columns each side of the line, where an 8x enlargement mixes both colours.
  left, right = out[band, 90:98], out[band, 104:112]
  assert np.abs(left - RED).max() <= 12
  assert np.abs(right - BLUE).max() <= 12
  # The plain enlargement does mix them there: the test can tell the two apart.
  assert np.abs(plain[band, 90:98].astype(int) - RED).max() > 40


def test_lines_come_from_the_large_sketch_exactly():
  sketch = split_square()
  small, small_sketch = small_result(sketch, 32)
  labels = regions_lib.segment(sketch).labels
  out = upscale.under_lines(small, small_sketch, sketch, labels)
  assert out.shape == (256, 256, 3) and out.dtype == np.uint8
  ink = sketch == 0
  assert ink.sum() > 1000 and (out[ink] == 0).all()
  # The paper outside the square stays white; nothing the small result had is lost.
  assert (out[:15, :15] == 255).all()


def test_a_region_narrower_than_a_small_pixel_still_gets_a_colour():
  img = Image.new("L", (256, 256), 255)
  d = ImageDraw.Draw(img)
  d.rectangle((20, 20, 235, 235), outline=0, width=2)
  d.rectangle((120, 40, 124, 200), outline=0, width=1)  # a strip 3 px wide inside
  sketch = np.asarray(img).copy()
  small = np.full((16, 16, 3), 255, np.uint8)
  small[2:14, 2:14] = RED
  small_sketch = np.asarray(Image.fromarray(sketch).resize((16, 16), Image.Resampling.LANCZOS))
  regions = regions_lib.segment(sketch, min_area=1)
  strip = regions.labels[120, 122]
  assert strip != regions.labels[120, 60]
  out = upscale.under_lines(small, small_sketch, sketch, regions.labels)
  inside = out[60:180, 122].astype(int)
  assert np.isfinite(inside).all()
  assert np.abs(inside - RED).max() < 80, inside[:3]


def test_deterministic_and_same_size_is_the_identity_on_paper_pixels():
  sketch = split_square(64, 1)
  small, small_sketch = small_result(sketch, 64)
  labels = regions_lib.segment(sketch).labels
  a = upscale.under_lines(small, small_sketch, sketch, labels)
  b = upscale.under_lines(small.copy(), small_sketch.copy(), sketch.copy(), labels.copy())
  np.testing.assert_array_equal(a, b)
  paper = small_sketch == 255
  interior = paper & (np.abs(np.arange(64) - 25)[None, :] > 2)
  np.testing.assert_allclose(a[interior].astype(int), small[interior].astype(int), atol=3)
