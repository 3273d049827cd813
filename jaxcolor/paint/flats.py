"""Flat colours: one clean colour per region of a sketch, and clean paper.

  regions = regions_lib.segment(sketch)
  flats = flat_colors(regions, result_rgb, dots=dots_from_rgba(regions, points_rgba))
  image = flat_image(sketch, regions, flats)     # the flats with the line art multiplied

A region's colour is the median, in CIELAB, of the coloured result over the region's
paper pixels (its line pixels carry the line, not the colour), unless a colour point
lies in it: then the point's colour, exactly. Regions that touch the picture's edge and
that the result leaves near white are paper: pure white.

`clean_paper` is the same idea for the plain result: it takes the faint tint out of the
paper regions and leaves everything else as the model drew it. `repair_corner` takes out
the starter's stray corner pixels (README, "Clean outputs").
"""

import dataclasses
import functools

import numpy as np
from scipy import ndimage

from jaxcolor import color
from jaxcolor.paint import regions as regions_lib

# Paper: an edge region whose median colour is at least this light and this grey
# (CIELAB). The starter leaves its paper at L 88-97, chroma 5-15 (the demo drawings).
PAPER_MIN_L = 80.0
PAPER_MAX_CHROMA = 20.0
# `clean_paper` whitens a paper pixel fully above the upper and not at all below the
# lower of these bounds (a ramp between, so that halos fade rather than end in a step).
_CLEAN_L = (70.0, 85.0)
_CLEAN_CHROMA = (20.0, 40.0)
WHITE = (255, 255, 255)
# The starter's generator draws a spike into the top-right corner of its canvas; it shows
# within 16 rows and 26 columns of that corner (at 256 to 1024 px): rows x columns.
CORNER = (24, 32)
# There a pixel this far (CIELAB Delta E) from its region's flat colour is the spike's:
# on paper a small step, elsewhere only a glaring one, so that shading stays.
_CORNER_DELTA_E = (12.0, 40.0)
# Histogram bins of the per-region medians: L in 0.5 steps, a and b in steps of 1.
_L_BINS, _AB_BINS = 201, 256


@dataclasses.dataclass(frozen=True)
class Flats:
  """One colour per region.

  Attributes:
    colors: uint8 (count, 3) RGB; paper regions are white.
    paper: bool (count,), regions that are paper (transparent in the "flats" layer).
    pointed: bool (count,), regions whose colour a colour point set.
  """
  colors: np.ndarray
  paper: np.ndarray
  pointed: np.ndarray

  @classmethod
  def from_colors(cls, colors):
    """Flats from one (r, g, b) or None (paper) per region, e.g. a painter's edits."""
    paper = np.array([c is None for c in colors], bool)
    out = np.array([WHITE if c is None else tuple(c) for c in colors], np.uint8).reshape(-1, 3)
    return cls(colors=out, paper=paper, pointed=np.zeros(len(paper), bool))


# --------------------------------------------------------------------------- colour


@functools.lru_cache(maxsize=1)
def _lab_table():
  """CIELAB of every colour with 6 bits per channel (float32 (64**3, 3), 3 MB).

  Converting a megapixel exactly takes 0.4 s on this project's CPU; looking up a table
  made once takes 10 ms, and 2 dropped bits move a median by under 1.5 Delta E.
  """
  levels = np.arange(64) * 4 + 1.5  # the middle of each 4-level bin
  grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), -1).reshape(-1, 3)
  return color.rgb_to_lab(grid).astype(np.float32)


def to_lab(rgb):
  """uint8 RGB (..., 3) -> float32 CIELAB (..., 3), through `_lab_table`."""
  rgb = np.asarray(rgb, np.uint8)
  q = (rgb >> 2).astype(np.int32)
  return _lab_table()[(q[..., 0] << 12) | (q[..., 1] << 6) | q[..., 2]]


def lab_to_uint8(lab):
  """CIELAB (..., 3) -> uint8 RGB (rounded)."""
  return np.rint(color.lab_to_rgb(lab)).astype(np.uint8)


def median_lab(labels, count, lab, where=None):
  """Per-region median of each CIELAB channel: float32 (count, 3).

  Args:
    labels: int (H, W) in [0, count).
    count: number of regions.
    lab: float (H, W, 3).
    where: optional bool (H, W): only these pixels count; a region with none of them
      takes all of its pixels instead.
  """
  labels = np.asarray(labels).ravel()
  lab = np.asarray(lab, np.float32).reshape(-1, 3)
  if where is None:
    return _binned_median(labels, count, lab)
  where = np.asarray(where).ravel()
  med = _binned_median(labels[where], count, lab[where])
  empty = np.bincount(labels[where], minlength=count) == 0
  if empty.any():
    med[empty] = _binned_median(labels, count, lab)[empty]
  return med


def _binned_median(labels, count, lab):
  # A histogram per region and channel, then the bin where the count passes half: O(pixels),
  # where sorting every region's pixels would be O(pixels log pixels).
  out = np.zeros((count, 3), np.float32)
  specs = ((0.0, 0.5, _L_BINS), (-128.0, 1.0, _AB_BINS), (-128.0, 1.0, _AB_BINS))
  base = labels.astype(np.int64)
  for ch, (lo, step, bins) in enumerate(specs):
    q = np.clip(np.rint((lab[:, ch] - lo) / step), 0, bins - 1).astype(np.int64)
    hist = np.bincount(base * bins + q, minlength=count * bins).reshape(count, bins)
    cdf = np.cumsum(hist, axis=1)
    half = (cdf[:, -1] + 1) // 2
    out[:, ch] = lo + step * np.argmax(cdf >= np.maximum(half, 1)[:, None], axis=1)
  return out


def is_paper(regions, med_lab):
  """bool (count,): edge regions whose median colour is near white."""
  chroma = np.hypot(med_lab[:, 1], med_lab[:, 2])
  return regions.border & (med_lab[:, 0] >= PAPER_MIN_L) & (chroma <= PAPER_MAX_CHROMA)


# --------------------------------------------------------------------------- colour points


def _region_vote(regions, ys, xs):
  """The region most of these pixels lie in, counting line pixels only if all are."""
  labels = regions.labels[ys, xs]
  on_paper = ~regions.ink[ys, xs]
  if on_paper.any():
    labels = labels[on_paper]
  counts = np.bincount(labels)
  return int(np.argmax(counts))


def dots_from_rgba(regions, rgba):
  """Colour points as an RGBA image (any size) -> [(region, (r, g, b))].

  Each dot (a connected group of pixels with alpha >= 128) names the region most of its
  pixels fall in, off the lines; its colour is the median of its pixels. Dots are listed
  in raster order of their first pixel, so a later dot in the same region wins.
  """
  rgba = np.asarray(rgba)
  if rgba.ndim != 3 or rgba.shape[-1] != 4:
    raise ValueError(f"colour points must be RGBA (H, W, 4), got {rgba.shape}")
  opaque = rgba[..., 3] >= 128
  if not opaque.any():
    return []
  dots, n = ndimage.label(opaque, ndimage.generate_binary_structure(2, 2))
  h, w = regions.labels.shape
  sh, sw = opaque.shape
  out = []
  for i, box in enumerate(ndimage.find_objects(dots), start=1):
    ys, xs = np.nonzero(dots[box] == i)
    ys, xs = ys + box[0].start, xs + box[1].start
    rgb = tuple(int(v) for v in np.median(rgba[ys, xs, :3], axis=0).round())
    # Pixel centres onto pixel centres, as `hints.points_image` maps them.
    ty = np.clip(((ys + 0.5) * h / sh).astype(np.int64), 0, h - 1)
    tx = np.clip(((xs + 0.5) * w / sw).astype(np.int64), 0, w - 1)
    out.append((_region_vote(regions, ty, tx), rgb))
  return out


def dots_from_points(regions, points):
  """Clicked points [(x, y, (r, g, b))] in the regions' pixels -> [(region, rgb)].

  A point names the region of the very pixel clicked: on a line, the side it went to.
  """
  h, w = regions.labels.shape
  out = []
  for x, y, rgb in points:
    x, y = min(max(int(x), 0), w - 1), min(max(int(y), 0), h - 1)
    out.append((int(regions.labels[y, x]), tuple(int(v) for v in rgb)))
  return out


# --------------------------------------------------------------------------- flats


def fill_dots(rgb, regions, dots):
  """The result with each dotted region in its dot's colour, the model's shading kept.

  A model treats a dot as a hint and may colour only a blotch around it; a user who puts a
  dot on a shirt means the shirt. In a dotted region every pixel off the lines takes the
  dot's hue and chroma (CIELAB a*, b*) and its lightness moves by the same amount as the
  region's median lightness moves to the dot's, so the model's shadows and highlights
  stay. Line pixels and undotted regions keep the model's colour. A later dot in the same
  region wins, as in `flat_colors`.

  Args:
    rgb: uint8 (H, W, 3), the model's result at the regions' size.
    regions: `regions.Regions` of the sketch.
    dots: [(region, (r, g, b))] from `dots_from_rgba` / `dots_from_points`.
  Returns a uint8 copy.
  """
  rgb = np.asarray(rgb, np.uint8)
  if rgb.shape[:2] != regions.labels.shape:
    raise ValueError(f"result {rgb.shape[:2]} and regions {regions.labels.shape} differ in size")
  chosen = dict(dots)
  out = rgb.copy()
  if not chosen:
    return out
  target = np.full(regions.count, -1, np.int64)
  target[list(chosen)] = np.arange(len(chosen))
  pick = target[regions.labels]
  where = (pick >= 0) & ~regions.ink
  if not where.any():
    return out
  # Exact CIELAB for the pixels that change: the 6-bit table would add banding to shading.
  lab = color.rgb_to_lab(rgb[where])
  ids = pick[where]
  dot_lab = color.rgb_to_lab(np.array(list(chosen.values()), np.float64).reshape(-1, 3))
  med_l = dot_lab[:, 0].copy()  # a region all line keeps no pixel to take a median of
  for i in np.unique(ids):
    med_l[i] = np.median(lab[ids == i, 0])
  new = np.empty_like(lab)
  new[:, 0] = np.clip(lab[:, 0] + (dot_lab[ids, 0] - med_l[ids]), 0.0, 100.0)
  new[:, 1:] = dot_lab[ids, 1:]
  out[where] = lab_to_uint8(new)
  return out


def flat_colors(regions, rgb, dots=()):
  """One colour per region from a coloured result (uint8 (H, W, 3)) and colour points.

  Args:
    regions: `regions.Regions` of the sketch, the result's size.
    rgb: uint8 (H, W, 3), the model's result.
    dots: [(region, (r, g, b))] from `dots_from_rgba` / `dots_from_points`.
  """
  rgb = np.asarray(rgb, np.uint8)
  if rgb.shape[:2] != regions.labels.shape:
    raise ValueError(f"result {rgb.shape[:2]} and regions {regions.labels.shape} differ in size")
  med = median_lab(regions.labels, regions.count, to_lab(rgb), where=~regions.ink)
  colors = lab_to_uint8(med)
  paper = is_paper(regions, med)
  colors[paper] = WHITE
  pointed = np.zeros(regions.count, bool)
  for region, dot_rgb in dots:
    colors[region] = dot_rgb
    pointed[region] = True
  paper &= ~pointed
  return Flats(colors=colors, paper=paper, pointed=pointed)


def render(regions, flats):
  """The flat colours alone, uint8 (H, W, 3)."""
  return flats.colors[regions.labels]


def multiply(rgb, sketch):
  """Line art multiplied over colour (a "multiply" layer): uint8 (H, W, 3)."""
  out = np.asarray(rgb, np.uint16) * np.asarray(sketch, np.uint16)[..., None]
  return ((out + 127) // 255).astype(np.uint8)


def flat_image(sketch, regions, flats):
  """What `--flat` writes: the flats with the sketch's lines multiplied over them."""
  return multiply(render(regions, flats), sketch)


def clean_paper(rgb, sketch, regions):
  """The plain result with the model's faint tint taken out of the paper: uint8 (H, W, 3).

  Only paper regions (`is_paper`) change, and in them only pixels that are already light
  and grey: those go to the line art over white (white paper, the sketch's own lines).
  Dark lines, colour that bled over a line and every other region stay as they are.
  """
  rgb = np.asarray(rgb, np.uint8)
  lab = to_lab(rgb)
  med = median_lab(regions.labels, regions.count, lab, where=~regions.ink)
  paper = is_paper(regions, med)
  if not paper.any():
    return rgb
  chroma = np.hypot(lab[..., 1], lab[..., 2])
  ramp = lambda x, lo, hi: np.clip((x - lo) / (hi - lo), 0.0, 1.0)
  weight = (ramp(lab[..., 0], *_CLEAN_L) * (1.0 - ramp(chroma, *_CLEAN_CHROMA))
            * paper[regions.labels])[..., None]
  target = np.asarray(sketch, np.float32)[..., None]
  out = rgb + weight * (target - rgb)
  return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def repair_corner(rgb, sketch, regions, canvas_width=None):
  """The result with the spike in its canvas's top-right corner painted over: uint8 copy.

  In the `CORNER` block at the top right of the canvas the model ran on (`canvas_width`
  columns wide, padding included; default the picture's width), pixels far from their
  region's flat colour (`_CORNER_DELTA_E`) take that colour with the lines multiplied
  over, white on paper. Nothing outside the block changes.
  """
  rgb = np.asarray(rgb, np.uint8)
  h, w = regions.labels.shape
  right = w if canvas_width is None else int(canvas_width)
  rows, cols = CORNER
  left = max(right - cols, 0)
  if left >= w:
    return rgb.copy()
  block = (slice(0, min(rows, h)), slice(left, w))
  med = median_lab(regions.labels, regions.count, to_lab(rgb), where=~regions.ink)
  paper = is_paper(regions, med)
  flat = lab_to_uint8(med)
  flat[paper] = WHITE
  labels = regions.labels[block]
  expect = multiply(flat[labels], np.asarray(sketch)[block])
  delta = np.linalg.norm(to_lab(rgb[block]) - to_lab(expect), axis=-1)
  limit = np.where(paper[labels], *_CORNER_DELTA_E)
  out = rgb.copy()
  patch = out[block]
  stray = delta > limit
  patch[stray] = expect[stray]
  out[block] = patch
  return out
