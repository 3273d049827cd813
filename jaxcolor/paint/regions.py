"""The closed regions of a sketch: the areas its lines enclose, small gaps in them closed.

  regions = segment(sketch)          # uint8 (H, W), dark lines on white paper
  regions.labels                     # int32 (H, W): 0 .. regions.count - 1, every pixel
  regions.usable                     # False for a scribble or a photo (see `problem`)

The method is trapped-ball filling (Zhang et al. 2009, "Trapped-ball segmentation"; the
LineFiller pipeline for manga line art), all ball positions at once:

1. Ink is every pixel darker than `threshold`, plus the fainter pixels (up to `faint`
   below the paper's level) of any line that has such a dark pixel: thin lines drawn
   light or anti-aliased at a small size stay unbroken, while faint texture on its own
   is not ink (hysteresis thresholding). Ink specks smaller than `speck` pixels are then
   dropped, because filter-made (XDoG) line art sprinkles them over flat areas.
2. The seeds are the places where a ball of radius `gap` fits between the lines: the
   connected parts of {distance to ink > gap}. A ball cannot pass a gap narrower than
   its diameter, so a line with such a gap still separates two seeds.
3. The rest of the paper goes to the nearest seed through the paper (a breadth-first
   flood, all seeds at once), so two seeds meet in the middle of a gap and no region
   reaches across a line. Closed parts of the paper too narrow to hold the ball anywhere
   (small closed shapes) are regions of their own. Then the lines are flooded from the
   paper, so each line pixel goes to the nearer side of its line.
4. Regions of fewer than `min_area` paper pixels (their share of the lines aside) join
   the neighbour they share most border with.

The ball is a square (chessboard distance, from an integral image): it only has to be
about round, and two cumulative sums cost a fraction of a Euclidean distance transform.
The floods touch only the pixels still to label (a band along the lines): 8-11x faster
than `scipy.ndimage.watershed_ift` over the whole picture on 1024x1024 drawn or XDoG
lines. Deterministic: no randomness, ties go to the larger label, and labels are
numbered in the order the seeds are first met in raster order.
"""

import dataclasses

import numpy as np
from scipy import ndimage

# Ink: a pixel darker than this (anti-aliased edges included, so gaps look their size).
DEFAULT_THRESHOLD = 192
# A faint pixel joins the ink when it is this much darker than the paper and touches ink.
# Measured on held-out character line art (docs/paint_study.py characters): thin grey
# outlines at 256 px lost half of the part boundaries at a plain threshold of 192.
DEFAULT_FAINT = 15
# At most this share of ink: more is a photo or a filled silhouette, not line art.
MAX_INK_SHARE = 0.4
_FOUR = ndimage.generate_binary_structure(2, 1)
_EIGHT = ndimage.generate_binary_structure(2, 2)


@dataclasses.dataclass(frozen=True)
class Regions:
  """A sketch split into regions.

  Attributes:
    labels: int32 (H, W), the region of every pixel, 0 .. count - 1.
    count: number of regions.
    ink: bool (H, W), the line pixels (after removing specks).
    area: int64 (count,), pixels per region.
    border: bool (count,), whether the region touches the picture's edge.
  """
  labels: np.ndarray
  count: int
  ink: np.ndarray
  area: np.ndarray
  border: np.ndarray

  @property
  def closed(self) -> int:
    """Regions that lines close off from the picture's edge."""
    return int(np.count_nonzero(~self.border))

  @property
  def problem(self) -> str | None:
    """Why these regions are no use for flat colours, or None when they are."""
    share = float(self.ink.mean()) if self.ink.size else 0.0
    if share > MAX_INK_SHARE:
      return (f"{share:.0%} of the picture is dark: it looks like a photo or a filled "
              "shape, not line art")
    if not self.closed:
      return "its lines enclose no region"
    return None

  @property
  def usable(self) -> bool:
    return self.problem is None


def default_gap(h, w) -> int:
  """Ball radius for an (h, w) sketch: gaps up to about twice this close (3 px at 512)."""
  return max(2, round(max(h, w) * 0.005))


def default_min_area(h, w) -> int:
  """Smallest region kept: 0.004% of the picture (10 px at 512, 42 px at 1024), at least 6."""
  return max(6, round(h * w * 4e-5))


def default_speck(h, w) -> int:
  """Ink blobs under this many pixels are noise (3 px up to 548x548, 10 px at 1024)."""
  return max(3, round(h * w * 1e-5))


def ink_mask(sketch, threshold=DEFAULT_THRESHOLD, faint=DEFAULT_FAINT):
  """bool (H, W): pixels darker than `threshold`, and the connected faint ones (darker
  than the paper's median level by more than `faint`) of every line that has any."""
  dark = sketch < threshold
  if not faint or not dark.any():
    return dark
  paper_level = float(np.median(sketch))
  weak = sketch < max(threshold, paper_level - faint)
  lines, n = ndimage.label(weak, _EIGHT)
  keep = np.zeros(n + 1, bool)
  keep[lines[dark]] = True
  keep[0] = False
  return keep[lines]


def segment(sketch, *, threshold=DEFAULT_THRESHOLD, faint=DEFAULT_FAINT, gap=None,
            min_area=None, speck=None):
  """Splits uint8 line art (H, W), dark lines on white, into closed regions.

  Args:
    sketch: uint8 (H, W) grey, paper 255 (as `infer.load_sketch` gives it).
    threshold: pixels darker than this are ink.
    faint: pixels this much darker than the paper are ink where they touch ink (0: off).
    gap: ball radius in pixels: gaps in lines up to about 2 * gap are closed (default
      `default_gap`); 0 closes nothing.
    min_area: regions smaller than this join a neighbour (default `default_min_area`).
    speck: ink blobs of fewer pixels are dropped as noise (default `default_speck`).

  Returns:
    `Regions`.
  """
  sketch = np.asarray(sketch)
  if sketch.ndim != 2 or sketch.dtype != np.uint8:
    raise ValueError(f"sketch must be uint8 (H, W), got {sketch.dtype} {sketch.shape}")
  h, w = sketch.shape
  gap = default_gap(h, w) if gap is None else int(gap)
  min_area = default_min_area(h, w) if min_area is None else int(min_area)
  speck = default_speck(h, w) if speck is None else int(speck)

  ink = ink_mask(sketch, threshold, faint)
  if speck > 1 and ink.any():
    blobs, n = ndimage.label(ink, _EIGHT)
    ink &= (np.bincount(blobs.ravel(), minlength=n + 1) >= speck)[blobs]
  paper = ~ink
  if not paper.any():
    return _one_region(ink)

  core = _cores(paper, gap)
  seeds, n_seeds = ndimage.label(core, _FOUR)
  labels = _flood(seeds, paper & ~core)
  # Paper the flood did not reach is closed off and too narrow for the ball anywhere
  # (a small closed shape): each such part is a region of its own.
  rest = paper & (labels == 0)
  if rest.any():
    extra, n_extra = ndimage.label(rest, _FOUR)
    labels[rest] = extra[rest] + n_seeds
    n_seeds += n_extra
  if ink.any():
    labels = _flood(labels, ink)  # each line pixel to the nearer side of its line
  labels = _merge_small(labels, n_seeds, min_area, paper)
  return _finish(labels, ink)


def _cores(paper, gap):
  """Paper pixels whose (2 gap + 1)-pixel square holds no ink: where the ball fits.

  That is chessboard distance to the ink > gap (outside the picture counts as paper),
  from an integral image: two cumulative sums, whatever the gap.
  """
  if gap <= 0:
    return paper.copy()
  k = 2 * gap + 1
  ink = np.pad((~paper).astype(np.int32), ((gap + 1, gap), (gap + 1, gap)))
  s = ink.cumsum(0).cumsum(1)
  return (s[k:, k:] - s[:-k, k:] - s[k:, :-k] + s[:-k, :-k]) == 0


def _flood(labels, todo):
  """Gives each `todo` pixel the label of the nearest labelled pixel: a new array.

  Nearest through `todo` pixels (4-neighbours), found breadth first and synchronously,
  so that fronts from two seeds meet halfway; of two labels arriving at once the larger
  wins. Work is proportional to the pixels to label, not to the picture.
  """
  h, w = labels.shape
  # A frame of zeros: every pixel has four neighbours, so no bounds checks.
  flat = np.pad(labels, 1).reshape(-1)
  idx = np.flatnonzero(np.pad(todo, 1)).astype(np.int32)
  while idx.size:
    got = np.maximum(np.maximum(flat[idx - 1], flat[idx + 1]),
                     np.maximum(flat[idx - (w + 2)], flat[idx + (w + 2)]))
    done = got > 0
    if not done.any():
      break  # the rest touches no label (cannot happen: every paper part has a seed)
    flat[idx[done]] = got[done]
    idx = idx[~done]
  return flat.reshape(h + 2, w + 2)[1:-1, 1:-1]


def _one_region(ink):
  labels = np.zeros(ink.shape, np.int32)
  return _finish(labels + 1, ink)


def _merge_small(labels, n, min_area, paper):
  """Regions under min_area paper pixels join the neighbour they share most border with."""
  keyed = labels * 2 + paper  # one bincount gives (ink, paper) pixels of every region
  for _ in range(6):  # a small region may first join another small one
    counts = np.bincount(keyed.ravel(), minlength=2 * n + 2).reshape(-1, 2)
    area = counts[:, 1]
    small = (counts.sum(1) > 0) & (area < min_area)
    if not small.any():
      break
    src, dst = [], []
    for a, b in ((labels[:, :-1], labels[:, 1:]), (labels[:-1], labels[1:])):
      edge = a != b
      a, b = a[edge], b[edge]
      src += [a, b]
      dst += [b, a]
    src, dst = np.concatenate(src), np.concatenate(dst)
    keep = small[src]
    if not keep.any():
      break  # small regions with no neighbour (the whole picture)
    key = src[keep].astype(np.int64) * (n + 1) + dst[keep]
    pairs, border = np.unique(key, return_counts=True)
    s, t = pairs // (n + 1), pairs % (n + 1)
    # Longest shared border first; ties to the larger neighbour, then the lower label.
    order = np.lexsort((t, -area[t], -border, s))
    s, t = s[order], t[order]
    first = np.r_[True, s[1:] != s[:-1]]
    target = np.arange(n + 1)
    target[s[first]] = t[first]
    # Two small regions that chose each other: the larger (then lower label) stays.
    mutual = target[target] == np.arange(n + 1)
    stay = mutual & ((area > area[target]) | ((area == area[target]) &
                                               (np.arange(n + 1) < target)))
    target[stay] = np.flatnonzero(stay)
    for _ in range(8):  # follow chains a -> b -> c to their end
      nxt = target[target]
      if np.array_equal(nxt, target):
        break
      target = nxt
    labels = target[labels]
    keyed = labels * 2 + paper
  return labels


def _finish(labels, ink):
  """Renumbers labels 0 .. count - 1 (keeping their order) and derives the attributes."""
  present = np.bincount(labels.ravel())
  renumber = (np.cumsum(present > 0) - 1).astype(np.int32)
  area = present[present > 0]
  labels = renumber[labels]
  count = len(area)
  border = np.zeros(count, bool)
  for edge in (labels[0], labels[-1], labels[:, 0], labels[:, -1]):
    border[edge] = True
  return Regions(labels=labels, count=count, ink=ink, area=area, border=border)


# --------------------------------------------------------------------------- region maps


def encode_labels(labels):
  """int labels (H, W) < 2**24 -> uint8 RGB (H, W, 3): id = R + 256 G + 65536 B.

  A lossless PNG of this is how the web page gets the region of every pixel.
  """
  labels = np.asarray(labels)
  if labels.size and (labels.min() < 0 or labels.max() >= 1 << 24):
    raise ValueError("region ids must be in [0, 2**24)")
  v = labels.astype(np.uint32)
  return np.stack([v & 255, (v >> 8) & 255, (v >> 16) & 255], -1).astype(np.uint8)


def decode_labels(rgb):
  """Inverse of `encode_labels`."""
  rgb = np.asarray(rgb).astype(np.int32)
  return rgb[..., 0] | (rgb[..., 1] << 8) | (rgb[..., 2] << 16)
