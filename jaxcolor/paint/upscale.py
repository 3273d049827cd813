"""Colours found on a small copy of a sketch, brought up under the sketch's own lines.

The bundled models learnt on drawings 128-180 px across. On a large sketch they see
every part at several times that scale and lose track of which part is which (README,
"Large sketches"), so `infer.Colorizer` colours a large sketch at its model's working
size and `under_lines` brings the colours back to the sketch's size:

1. The small result without its lines: the model draws the lines it was given, so each
   small pixel's colour is divided by its sketch's lightness, and trusted only as far as
   it is paper (a pixel that is mostly line holds the line's darkness, not a colour).
2. Each pixel of the large sketch averages the trusted small pixels around it (a 4x4
   tent) that lie wholly in its own closed region of the large sketch (`paint.regions`):
   the colours stop at the sketch's lines instead of bleeding a small pixel's width over
   them. A pixel with no such neighbour takes its region's mean; a region narrower than
   a small pixel takes the plain tent average.
3. The large sketch's lines are multiplied over, so they stay sharp and exactly as drawn.

numpy only; deterministic.
"""

import numpy as np

# Small pixels at least this light (sketch level) are all colour, at most `_LINE_LEVEL`
# all line; a linear ramp between. A line downscaled 4-8x is a grey smear of about 150-230.
_PAPER_LEVEL = 224.0
_LINE_LEVEL = 96.0
# Dividing out a line lighter than this would blow up the model's noise.
_MIN_LIGHTNESS = 0.5
_TAPS = 4  # per axis: the tent reaches two small pixels each way


def _taps(large: int, small: int):
  """For each large row (or column): the `_TAPS` small indices and their tent weights."""
  centre = (np.arange(large) + 0.5) * (small / large) - 0.5
  first = np.floor(centre).astype(np.int64) - 1
  index = first[:, None] + np.arange(_TAPS)[None, :]
  weight = np.maximum(0.0, 1.0 - np.abs(centre[:, None] - index) / 2.0)
  return np.clip(index, 0, small - 1), weight.astype(np.float32)


def _small_labels(labels, h, w):
  """Each small pixel's region in `labels`, and whether its whole footprint lies in it.

  A small pixel whose footprint crosses a line mixes the colours of both sides; 3x3
  samples over the footprint tell (a line thinner than a third of a small pixel may slip
  between them, but such a pixel is mostly one side's colour anyway).
  """
  big_h, big_w = labels.shape
  at = lambda frac, large, small: np.clip(
      np.floor((np.arange(small) + frac) * (large / small)).astype(np.int64), 0, large - 1)
  thirds = (1 / 6, 1 / 2, 5 / 6)
  samples = [labels[np.ix_(at(fy, big_h, h), at(fx, big_w, w))]
             for fy in thirds for fx in thirds]
  centre = samples[4]
  return centre, np.logical_and.reduce([s == centre for s in samples])


def under_lines(small_rgb, small_sketch, sketch, labels):
  """The small result's colours at the sketch's size, its lines multiplied over.

  Args:
    small_rgb: uint8 (h, w, 3), the result at the working size.
    small_sketch: uint8 (h, w), the sketch the model saw.
    sketch: uint8 (H, W), the sketch at its own size (white paper, dark lines).
    labels: int (H, W), its closed regions (`paint.regions.segment(sketch).labels`).

  Returns:
    uint8 (H, W, 3).
  """
  small_rgb = np.asarray(small_rgb, np.float32)
  lightness = np.asarray(small_sketch, np.float32) / 255.0
  colour = np.minimum(small_rgb / np.maximum(lightness, _MIN_LIGHTNESS)[..., None], 255.0)
  trust = np.clip((lightness * 255.0 - _LINE_LEVEL) / (_PAPER_LEVEL - _LINE_LEVEL), 0.0, 1.0)
  labels = np.asarray(labels)
  (big_h, big_w), (h, w) = labels.shape, lightness.shape
  small_labels, whole = _small_labels(labels, h, w)
  rows, row_w = _taps(big_h, h)
  cols, col_w = _taps(big_w, w)
  whole_trust = trust * whole
  weighted = colour * whole_trust[..., None]
  num = np.zeros((big_h, big_w, 3), np.float32)
  den = np.zeros((big_h, big_w), np.float32)
  for i in range(_TAPS):
    for j in range(_TAPS):
      pick = np.ix_(rows[:, i], cols[:, j])
      tent = row_w[:, i, None] * col_w[None, :, j] * (small_labels[pick] == labels)
      num += tent[..., None] * weighted[pick]
      den += tent * whole_trust[pick]
  covered = den > 1e-6
  out = num / np.maximum(den, 1e-6)[..., None]
  # A pixel that no same-region neighbour reaches: its region's mean colour.
  count = int(labels.max()) + 1 if labels.size else 0
  hits = np.bincount(labels[covered], minlength=count)
  rest = ~covered & (hits[labels] > 0)
  for c in range(3):
    mean = np.bincount(labels[covered], out[..., c][covered], minlength=count)
    out[..., c][rest] = (mean / np.maximum(hits, 1))[labels[rest]]
  # A region that holds no whole small pixel (narrower than one): the plain tent average.
  ys, xs = np.nonzero(hits[labels] == 0)
  if ys.size:
    num, den = np.zeros((ys.size, 3), np.float32), np.zeros(ys.size, np.float32)
    for i in range(_TAPS):
      for j in range(_TAPS):
        r, c = rows[ys, i], cols[xs, j]
        tent = row_w[ys, i] * col_w[xs, j] * trust[r, c]
        num += tent[:, None] * colour[r, c]
        den += tent
    # No trusted colour near at all (an all-line picture): the nearest small pixel's.
    near = colour[rows[ys, 1], cols[xs, 1]]
    out[ys, xs] = np.where((den > 1e-6)[:, None], num / np.maximum(den, 1e-6)[:, None], near)
  lines = np.asarray(sketch, np.float32)[..., None] / 255.0
  return np.clip(np.rint(out * lines), 0, 255).astype(np.uint8)
