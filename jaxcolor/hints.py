"""Colour hints computed from a reference image: a K-means palette, a strip histogram, or
the reference image itself (the reference family looks colours up in it).

Host-side functions work on numpy uint8 images and return uint8 colours; the batch carries
the colours only and `hint_planes` expands them to constant planes on the device.

Histogram ("colorgram", seed 000): the reference is cut into 4 horizontal strips, top to
bottom, with boundaries at rows `j * h // 4` (the same boundaries `hint_planes` paints).
Per strip, each pixel falls in one of 64 coarse buckets made of the top 2 bits of its luma
(Rec. 709), hue and HLS saturation. Saturation rather than lightness is used because luma
already carries lightness; saturation separates pale colours (skin) from white paper.
The bucket is looked up in a 32768-entry table indexed by the colour truncated to 5 bits
per channel (evaluated at the cell centre), which makes a 512x512 reference cost ~3 ms
instead of ~15 ms. Buckets are ranked by pixel count, ties by bucket index; a bucket's
colour is the exact mean RGB of its pixels.

Palette (seed 001): K-means (k-means++ init, 3 inits, <= 50 iterations, one OpenMP thread)
on at most 2048 pixels of the x0.25 area-downscaled reference, in RGB or CIELAB; ~8 ms for a
512x512 reference. Centres are sorted by Rec. 709 luma, then hue, then R, G, B, so that the same
channel means roughly the same thing from image to image.
"""

import colorsys
import re

import numpy as np
from PIL import Image

from jaxcolor import color as color_lib
from jaxcolor.errors import UserError

HINT_SHAPES = {"palette": (9, 3), "histogram": (4, 4, 3)}
# The reference family's hint: the reference image, uint8 (H, W, 3) of any size.
REFERENCE = "reference"
KINDS = (*HINT_SHAPES, REFERENCE)
# "No reference" (colour points alone): uniform mid-grey, which is 0 in [-1, 1] and unlike
# any drawing, so the model can tell it from a reference that is mostly paper.
NO_REFERENCE_LEVEL = 128

NUM_STRIPS = 4
NUM_RANKS = 4
_NUM_BUCKETS = 64
# K-means cost is linear in the samples; this many keeps a 512x512 reference under ~10 ms.
_MAX_KMEANS_SAMPLES = 2048


def _check_kind(kind, planes=False):
  known = HINT_SHAPES if planes else KINDS
  if kind not in known:
    raise UserError(f"unknown hint kind {kind!r}: expected one of {sorted(known)}")


def hint_channels(kind):
  """Input channels the hint planes add: 27 (palette), 12 (histogram), 0 (reference)."""
  _check_kind(kind)
  if kind == REFERENCE:
    return 0
  # Palette: 9 colours x RGB; histogram: 4 rank images x RGB (strips share channels).
  return 27 if kind == "palette" else NUM_RANKS * 3


def _check_rgb(ref):
  ref = np.asarray(ref)
  if ref.ndim != 3 or ref.shape[-1] != 3 or ref.dtype != np.uint8:
    raise UserError(f"reference must be uint8 (H, W, 3), got {ref.dtype} {ref.shape}")
  if ref.shape[0] == 0 or ref.shape[1] == 0:
    raise UserError(f"reference is empty: shape {ref.shape}")
  return ref


def _cycle(colors, n):
  """Repeats `colors` (m, 3) cyclically to n rows; m >= 1."""
  return colors[np.arange(n) % len(colors)]


# ----------------------------------------------------------------------------- histogram


def _bucket_ids(rgb):
  """64 coarse buckets per pixel: 2 bits each of luma, hue and HLS saturation."""
  c = rgb.reshape(-1, 3).astype(np.int32)
  r, g, b = c[:, 0], c[:, 1], c[:, 2]
  mx = np.maximum(np.maximum(r, g), b)
  mn = np.minimum(np.minimum(r, g), b)
  delta = mx - mn
  # Integer Rec. 709 luma in [0, 255].
  luma = (2126 * r + 7152 * g + 722 * b) // 10000
  # Hue in sixths of the circle, scaled to [0, 6 * 256): only its top 2 bits are needed.
  safe = np.maximum(delta, 1)
  hue = np.where(
      mx == r, ((g - b) * 256) // safe,
      np.where(mx == g, 512 + ((b - r) * 256) // safe, 1024 + ((r - g) * 256) // safe))
  hue = np.where(delta == 0, 0, hue % 1536)
  hue_q = (hue * 4) // 1536
  # HLS saturation: delta / (max + min) below mid lightness, delta / (510 - max - min) above.
  total = mx + mn
  denom = np.where(total <= 255, total, 510 - total)
  sat_q = np.where(delta == 0, 0, (delta * 4) // np.maximum(denom, 1))
  sat_q = np.minimum(sat_q, 3)
  return (luma >> 6) * 16 + hue_q * 4 + sat_q


def _make_bucket_table():
  cells = np.stack(np.meshgrid(np.arange(32), np.arange(32), np.arange(32), indexing="ij"), -1)
  return _bucket_ids((cells * 8 + 4).astype(np.uint8)).astype(np.uint8)


_BUCKET_TABLE = _make_bucket_table()  # index: (r >> 3) << 10 | (g >> 3) << 5 | (b >> 3)


def _table_bucket_ids(rgb):
  """Same as `_bucket_ids` on the colour truncated to 5 bits per channel, via the table."""
  idx = (rgb[..., 0] >> 3).astype(np.uint16) << 10
  idx |= (rgb[..., 1] >> 3).astype(np.uint16) << 5
  idx |= rgb[..., 2] >> 3
  return _BUCKET_TABLE[idx]


def strip_bounds(h):
  """Row boundaries of the 4 strips: strip j is rows bounds[j]:bounds[j + 1]."""
  return [j * h // NUM_STRIPS for j in range(NUM_STRIPS)] + [h]


def histogram_colors(ref, drop_background=False):
  """Top-4 coarse colours per horizontal strip: uint8 (4 strips, 4 ranks, 3).

  With `drop_background` the most frequent bucket of each strip is skipped (assumed paper),
  unless it is the only one. Strips with fewer colours repeat them cyclically.
  """
  ref = _check_rgb(ref)
  h, w = ref.shape[:2]
  if h < NUM_STRIPS:
    # Too few rows for 4 strips: repeat rows so that every strip has one.
    ref = ref[np.arange(NUM_STRIPS) * h // NUM_STRIPS]
    h = NUM_STRIPS
  bounds = strip_bounds(h)
  strip_of_row = np.repeat(np.arange(NUM_STRIPS), np.diff(bounds))
  offsets = (strip_of_row * _NUM_BUCKETS).astype(np.uint16)
  ids = (_table_bucket_ids(ref) + offsets[:, None]).ravel()
  n = NUM_STRIPS * _NUM_BUCKETS
  counts = np.bincount(ids, minlength=n)
  flat = ref.reshape(-1, 3)
  sums = np.stack([np.bincount(ids, weights=flat[:, ch], minlength=n) for ch in range(3)], -1)
  counts = counts.reshape(NUM_STRIPS, _NUM_BUCKETS)
  means = sums.reshape(NUM_STRIPS, _NUM_BUCKETS, 3) / np.maximum(counts, 1)[..., None]
  means = np.clip(np.rint(means), 0, 255).astype(np.uint8)
  out = np.empty((NUM_STRIPS, NUM_RANKS, 3), np.uint8)
  for j in range(NUM_STRIPS):
    # Stable sort on -count: equal counts keep bucket-index order.
    order = np.argsort(-counts[j], kind="stable")
    order = order[counts[j][order] > 0]
    if drop_background and len(order) > 1:
      order = order[1:]
    out[j] = _cycle(means[j][order[:NUM_RANKS]], NUM_RANKS)
  return out


# ----------------------------------------------------------------------------- palette


def sort_colors(colors):
  """Sorts uint8 colours (n, 3) by Rec. 709 luma, then hue, then R, G, B (ascending)."""
  colors = np.asarray(colors, np.uint8)
  c = colors.astype(np.int64)
  luma = 2126 * c[:, 0] + 7152 * c[:, 1] + 722 * c[:, 2]
  hue = np.array([colorsys.rgb_to_hsv(*(x / 255.0))[0] for x in c])
  order = np.lexsort((c[:, 2], c[:, 1], c[:, 0], hue, luma))
  return colors[order]


_CONTROLLER = []


def _threadpool_controller():
  """Cached threadpoolctl controller (creating one scans the loaded libraries)."""
  if not _CONTROLLER:
    from threadpoolctl import ThreadpoolController  # Ships with scikit-learn.

    _CONTROLLER.append(ThreadpoolController())
  return _CONTROLLER[0]


def palette_colors(ref, k=9, seed=0, color_space="rgb", downscale=0.25):
  """K-means palette of the reference: uint8 (k, 3), sorted by `sort_colors`.

  The reference is area-downscaled by `downscale`; at most 2048 pixels (drawn with `seed`)
  are clustered, weighted by multiplicity. `color_space="lab"` clusters in CIELAB, which
  keeps dark colours apart. Fewer than k distinct colours are repeated, not an error.
  """
  from sklearn.cluster import KMeans  # Deferred: sklearn import costs ~1 s.

  ref = _check_rgb(ref)
  if color_space not in ("rgb", "lab"):
    raise UserError(f"unknown palette colour space {color_space!r}: expected 'rgb' or 'lab'")
  if k < 1:
    raise UserError(f"palette size must be >= 1, got {k}")
  h, w = ref.shape[:2]
  if downscale and downscale != 1:
    size = (max(1, round(w * downscale)), max(1, round(h * downscale)))
    ref = np.asarray(Image.fromarray(ref).resize(size, Image.Resampling.BOX))
  pixels = ref.reshape(-1, 3)
  rng = np.random.default_rng(seed)
  if len(pixels) > _MAX_KMEANS_SAMPLES:
    pixels = pixels[rng.choice(len(pixels), _MAX_KMEANS_SAMPLES, replace=False)]
  p32 = pixels.astype(np.int32)
  packed = (p32[:, 0] << 16) | (p32[:, 1] << 8) | p32[:, 2]
  uniq, counts = np.unique(packed, return_counts=True)
  distinct = np.stack([(uniq >> 16) & 255, (uniq >> 8) & 255, uniq & 255], -1).astype(np.uint8)
  if len(distinct) <= k:
    return _cycle(sort_colors(distinct), k)
  data = color_lib.rgb_to_lab(distinct) if color_space == "lab" else distinct.astype(np.float64)
  km = KMeans(n_clusters=k, init="k-means++", n_init=3, max_iter=50, random_state=seed)
  # One OpenMP thread: on a busy machine sklearn's thread team spin-waits, 7 ms -> 300 ms.
  with _threadpool_controller().limit(limits=1, user_api="openmp"):
    km.fit(data, sample_weight=counts.astype(np.float64))
  centres = km.cluster_centers_
  if color_space == "lab":
    centres = color_lib.lab_to_rgb(centres)
  return sort_colors(np.clip(np.rint(centres), 0, 255).astype(np.uint8))


# ----------------------------------------------------------------------------- user palettes

_HEX_RE = re.compile(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")


def parse_palette(text, k=9):
  """Parses comma/space separated hex colours ('#rgb', '#rrggbb', '#' optional) to (k, 3)."""
  tokens = [t for t in re.split(r"[,\s]+", text.strip()) if t]
  if not tokens:
    raise UserError("palette is empty: give hex colours such as '#ff8800, #333'")
  if len(tokens) > k:
    raise UserError(f"palette has {len(tokens)} colours, at most {k} allowed")
  colors = []
  for tok in tokens:
    m = _HEX_RE.fullmatch(tok)
    if not m:
      raise UserError(f"bad palette colour {tok!r}: expected '#rgb' or '#rrggbb'")
    digits = m.group(1)
    if len(digits) == 3:
      digits = "".join(d * 2 for d in digits)
    colors.append([int(digits[i:i + 2], 16) for i in (0, 2, 4)])
  return _cycle(np.array(colors, np.uint8), k)


def to_hex(colors):
  """uint8 colours (..., 3) -> ['#rrggbb', ...]."""
  return ["#{:02x}{:02x}{:02x}".format(*map(int, c)) for c in np.asarray(colors).reshape(-1, 3)]


def palette_from_text(text, k=9):
  """User palette (hex string or list of hex strings) -> uint8 (k, 3) ordered like training.

  Training palettes are sorted by `hints.sort_colors` and repeated cyclically when there
  are fewer distinct colours, so channel i means roughly the same thing in every palette;
  a hand-written palette is put in that order too.
  """
  if not isinstance(text, str):
    text = ",".join(str(t) for t in text)
  colors = parse_palette(text, k)
  _, first = np.unique(colors, axis=0, return_index=True)
  distinct = sort_colors(colors[np.sort(first)])
  return distinct[np.arange(k) % len(distinct)]


def palette_from_points(rgba, k=9):
  """The distinct colours of the points (the k most used), as a palette: uint8 (k, 3)."""
  rgb = rgba[rgba[..., 3] >= 128][:, :3]
  colors, counts = np.unique(rgb, axis=0, return_counts=True)
  top = colors[np.argsort(-counts, kind="stable")[:k]]
  # Written as hex, a typed palette gets the training order and the cyclic repeat.
  return palette_from_text(to_hex(top), k)


def hint_options(config) -> dict:
  """compute_hint options from a training config (the palette's colour space)."""
  if config.model.hint == "palette":
    return {"color_space": config.data.get("palette_color_space", "rgb")}
  return {}


def compute_hint(kind, ref_uint8, seed=0, **options):
  """Host-side hint of a uint8 reference: colours (9, 3) / (4, 4, 3), or the image itself."""
  _check_kind(kind)
  if kind == REFERENCE:
    return _check_rgb(ref_uint8)
  if kind == "palette":
    return palette_colors(ref_uint8, seed=seed, **options)
  return histogram_colors(ref_uint8, **options)


# ----------------------------------------------------------------------------- reference images


def fit_reference(ref, side, multiple):
  """A reference resized so its long side is `side`, both sides multiples of `multiple`.

  The aspect ratio is kept to within one `multiple`; nothing is padded, so no padding can
  reach the colours the model looks up.
  """
  ref = _check_rgb(ref)
  h, w = ref.shape[:2]
  scale = side / max(h, w)
  size = [max(multiple, int(round(n * scale / multiple)) * multiple) for n in (h, w)]
  if (h, w) == tuple(size):
    return ref
  resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BICUBIC
  return np.asarray(Image.fromarray(ref).resize(size[::-1], resample))


def no_reference(side):
  """The reference image that means "none": uniform mid-grey, uint8 (side, side, 3)."""
  return np.full((side, side, 3), NO_REFERENCE_LEVEL, np.uint8)


def palette_reference(colors, side):
  """A palette as a reference image: a 3x3 grid of flat blocks, uint8 (side, side, 3).

  Colours fill the blocks in order, cycled when fewer than 9, so every colour takes an
  equal share: a palette says which colours, not how much of each.
  """
  colors = _cycle(np.asarray(colors, np.uint8).reshape(-1, 3), 9)
  edges = np.linspace(0, side, 4).round().astype(int)
  out = np.empty((side, side, 3), np.uint8)
  for i in range(3):
    for j in range(3):
      out[edges[i]:edges[i + 1], edges[j]:edges[j + 1]] = colors[3 * i + j]
  return out


# ----------------------------------------------------------------------------- planes


def _hint_planes(xp, kind, colors, h, w):
  """Shared body of `hint_planes` / `hint_planes_np`; `xp` is numpy or jax.numpy."""
  _check_kind(kind, planes=True)
  shape = HINT_SHAPES[kind]
  if tuple(colors.shape[-len(shape):]) != shape:
    raise ValueError(f"{kind} colours must end in {shape}, got {colors.shape}")
  lead = colors.shape[:-len(shape)]
  n = hint_channels(kind)
  if kind == "palette":
    flat = xp.reshape(colors, lead + (1, 1, n))
    return xp.broadcast_to(flat, lead + (h, w, n))
  # (..., strip, rank, rgb) -> (..., strip, rank * 3 + rgb): image-major channel order.
  per_strip = xp.reshape(colors, lead + (NUM_STRIPS, n))
  strip_of_row = np.repeat(np.arange(NUM_STRIPS), np.diff(strip_bounds(h)))
  rows = xp.take(per_strip, xp.asarray(strip_of_row), axis=-2)
  return xp.broadcast_to(rows[..., :, None, :], lead + (h, w, n))


def hint_planes(kind, colors, h, w):
  """jax.numpy: colours (..., 9, 3) / (..., 4, 4, 3) -> planes (..., h, w, 27 / 12)."""
  import jax.numpy as jnp  # Deferred so host-only users do not import jax.

  return _hint_planes(jnp, kind, jnp.asarray(colors), h, w)


def hint_planes_np(kind, colors, h, w):
  """numpy twin of `hint_planes` (host-side, e.g. visualisation)."""
  return _hint_planes(np, kind, np.asarray(colors), h, w)


def swatch_image(kind, colors, cell=32):
  """Small picture of the colours: palette = a row of squares; histogram = 4x4 grid."""
  _check_kind(kind, planes=True)
  colors = np.asarray(colors)
  if colors.dtype != np.uint8:
    colors = color_lib.to_uint8(colors)
  if kind == "palette":
    grid = colors.reshape(1, -1, 3)
  else:
    grid = colors.reshape(NUM_STRIPS, NUM_RANKS, 3)  # rows = strips, columns = ranks
  img = np.repeat(np.repeat(grid, cell, axis=0), cell, axis=1)
  return Image.fromarray(np.ascontiguousarray(img), "RGB")


# ----------------------------------------------------------------------------- colour points

POINT_CHANNELS = 4  # RGB in [-1, 1] where a point is, 0 elsewhere; then a 0/1 mask


def points_from_rgba(rgba, h, w):
  """User hint image -> planes (h, w, 4) float32; every pixel with alpha >= 128 is a point.

  An image of another size is enlarged with nearest neighbour (so a dot keeps its colour)
  or shrunk so that every dot keeps at least one pixel (the mean of its colours).
  Returns (planes, number of point pixels at (h, w)).
  """
  rgba = np.asarray(rgba)
  if rgba.ndim != 3 or rgba.shape[-1] != 4 or rgba.dtype != np.uint8:
    raise UserError(f"colour points must be a uint8 RGBA image, got {rgba.dtype} {rgba.shape}")
  mask = (rgba[..., 3] >= 128).astype(np.float32)
  rgb = rgba[..., :3].astype(np.float32) * mask[..., None]
  if rgba.shape[:2] != (h, w):
    if h * w >= mask.size:  # enlarging: nearest keeps each dot one flat colour
      idx_y = np.arange(h) * mask.shape[0] // h
      idx_x = np.arange(w) * mask.shape[1] // w
      mask, rgb = mask[idx_y][:, idx_x], rgb[idx_y][:, idx_x]
    else:
      # Shrinking: box-average, so that a dot smaller than the scale factor still marks
      # its target pixel, with the mean colour of its opaque pixels.
      box = lambda a: np.asarray(Image.fromarray(a, "F").resize((w, h), Image.Resampling.BOX))
      area = box(mask)
      rgb = np.stack([box(np.ascontiguousarray(rgb[..., c])) for c in range(3)], -1)
      rgb = rgb / np.maximum(area, 1e-6)[..., None]
      mask = (area > 0).astype(np.float32)
  planes = np.concatenate([(rgb / 127.5 - 1.0) * mask[..., None], mask[..., None]], -1)
  return planes.astype(np.float32), int(mask.sum())


def points_rgba(planes):
  """Point planes (H, W, 4) in [-1, 1] -> the RGBA image a user would give: uint8
  (the inverse of `points_from_rgba` at the same size)."""
  rgb = color_lib.to_uint8(np.asarray(planes)[..., :3])
  alpha = (np.asarray(planes)[..., 3:] > 0.5).astype(np.uint8) * 255
  return np.concatenate([rgb, alpha], -1)


def no_points(h, w):
  """Planes with no point: the model's input when none are given."""
  return np.zeros((h, w, POINT_CHANNELS), np.float32)


def draw_points(color, rng, n, sizes=(2, 5), on_ink=0.7):
  """n square dots of ground-truth colour at random places: planes (H, W, 4) float32.

  Each dot takes the colour of the image at its centre, as a user would pick it.
  A share `on_ink` of the dots land on non-white pixels (users rarely dot the paper).
  """
  color = np.asarray(color)
  h, w = color.shape[:2]
  planes = no_points(h, w)
  if n <= 0:
    return planes
  inked = np.flatnonzero(color.min(-1).ravel() < 235)
  for _ in range(int(n)):
    if len(inked) and rng.random() < on_ink:
      y, x = divmod(int(inked[rng.integers(len(inked))]), w)
    else:
      y, x = int(rng.integers(h)), int(rng.integers(w))
    s = int(rng.integers(sizes[0], sizes[1] + 1))
    top, left = max(0, y - s // 2), max(0, x - s // 2)
    planes[top:top + s, left:left + s, :3] = color[y, x].astype(np.float32) / 127.5 - 1.0
    planes[top:top + s, left:left + s, 3] = 1.0
  return planes


def random_point_count(rng, max_points, none_prob):
  """0 with probability none_prob, else 1..max_points skewed to few (log-uniform)."""
  if max_points <= 0 or rng.random() < none_prob:
    return 0
  return int(np.clip(np.floor(np.exp(rng.uniform(0.0, np.log(max_points + 1)))), 1, max_points))


def point_radius(height, width):
  """Disc radius in pixels for an image of this size: 3 at 512 px, proportional above."""
  return max(3, round(3 * max(height, width) / 512))


def points_image(points, height, width, *, scale=(1.0, 1.0), radius=None):
  """Colour points -> uint8 RGBA (height, width, 4): a disc of each point's colour.

  Args:
    points: [(x, y, (r, g, b))] or [{"x", "y", "color": "#rrggbb"}], in the coordinates
      of an image that `scale` = (sx, sy) maps onto this one (x * sx, y * sy).
    radius: disc radius in pixels of this image; default `point_radius(height, width)`.
  Later points paint over earlier ones; pixels outside all discs have alpha 0.
  """
  out = np.zeros((height, width, 4), np.uint8)
  r = point_radius(height, width) if radius is None else int(radius)
  sx, sy = scale
  for p in points:
    if isinstance(p, dict):  # as the web page sends them
      x, y, rgb = p["x"], p["y"], tuple(int(v) for v in parse_palette(p["color"], 1)[0])
    else:
      x, y, rgb = p
    # Pixel centres map onto pixel centres, so the disc stays under the clicked pixel.
    cx = int(np.clip(round((x + 0.5) * sx - 0.5), 0, width - 1))
    cy = int(np.clip(round((y + 0.5) * sy - 0.5), 0, height - 1))
    y0, y1, x0, x1 = max(cy - r, 0), min(cy + r + 1, height), max(cx - r, 0), min(cx + r + 1, width)
    yy, xx = np.mgrid[y0:y1, x0:x1]
    disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    out[y0:y1, x0:x1][disc] = (*rgb, 255)
  return out


def region_points(color, parts, rng, n, radius, must=(), first_part=2, paper_id=None):
  """n discs at random places on colour parts, each of its part's colour: planes (H, W, 4).

  What a user does on the page: click inside a region and pick that region's colour. The
  colour is the part's median in `color` (not the pixel under the click, which may sit on
  an anti-aliased edge). Parts in `must` get one dot each first (a recoloured part has no
  other way to tell its colour). With `paper_id` the paper counts as a part too: users
  also dot the background, white to keep it white.
  """
  color, parts = np.asarray(color), np.asarray(parts)
  h, w = parts.shape
  planes = no_points(h, w)
  dottable = parts >= first_part
  if paper_id is not None:
    dottable |= parts == paper_id
  ids = [int(p) for p in np.unique(parts[dottable])]
  if not ids or n <= 0 and not must:
    return planes
  where = {p: np.flatnonzero(parts.ravel() == p) for p in ids}
  median = {p: np.median(color.reshape(-1, 3)[where[p]], axis=0) for p in ids}
  chosen = [p for p in must if p in where][:max(int(n), len(must))]
  # Other dots fall on parts in proportion to their area, as clicks on a drawing do.
  pool = np.flatnonzero(dottable.ravel())
  picks = []
  for p in chosen:
    picks.append(int(where[p][rng.integers(len(where[p]))]))
  for _ in range(max(int(n) - len(chosen), 0)):
    picks.append(int(pool[rng.integers(len(pool))]))
  yy, xx = np.mgrid[:h, :w]
  for flat in picks:
    y, x = divmod(flat, w)
    disc = (yy - y) ** 2 + (xx - x) ** 2 <= radius * radius
    planes[disc, :3] = median[int(parts[y, x])].astype(np.float32) / 127.5 - 1.0
    planes[disc, 3] = 1.0
  return planes
