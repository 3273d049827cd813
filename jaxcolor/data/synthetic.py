"""The embedded default dataset: procedurally drawn cel-style illustrations.

Each example is drawn from its seed alone: overlapping closed shapes (ellipses, polygons,
blobs, sometimes a simple character: back hair, body, head, eyes, bangs) with flat fills
from a harmonious palette, two-tone cel shading and black outlines on white paper. The
sketch is exactly the outline layer: every sketch line is a black line of the colour image,
and a shape drawn later hides the lines it covers in both. Drawn at 2x, then box-averaged.
"""

import colorsys
import math

import numpy as np
from PIL import Image, ImageChops, ImageDraw

from jaxcolor.errors import UserError

NUM_TRAIN = 4000
NUM_VAL = 256
# Validation seeds start here, so train (index < offset) and val never share a seed.
_VAL_SEED_OFFSET = 1_000_000_000
_SPLIT_OFFSETS = {"train": 0, "val": _VAL_SEED_OFFSET}
_SUPERSAMPLE = 2
# Shapes stay inside this margin (fraction of the side) so that the corners stay paper.
_MARGIN = 0.03


def example_seed(split, index):
  """Seed of example `index` of a split ('train' or 'val'); the splits never overlap."""
  if split not in _SPLIT_OFFSETS:
    raise UserError(f"unknown synthetic split {split!r}: expected one of {sorted(_SPLIT_OFFSETS)}")
  if not 0 <= index < _VAL_SEED_OFFSET:
    raise UserError(f"synthetic example index {index} out of range [0, {_VAL_SEED_OFFSET})")
  return _SPLIT_OFFSETS[split] + int(index)


# ----------------------------------------------------------------------------- colours


def _hsv(h, s, v):
  r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0))
  return (round(r * 255), round(g * 255), round(b * 255))


def _palette(rng, n=6):
  """n (fill, shade) colour pairs from a random harmony scheme; sometimes a dark palette."""
  h0 = rng.random()
  scheme = rng.choice(["analogous", "complementary", "triadic", "split", "mono"])
  hues = {
      "analogous": [h0 - 1 / 12, h0, h0 + 1 / 12],
      "complementary": [h0, h0 + 0.5],
      "triadic": [h0, h0 + 1 / 3, h0 + 2 / 3],
      "split": [h0, h0 + 5 / 12, h0 + 7 / 12],
      "mono": [h0],
  }[scheme]
  dark = rng.random() < 0.2
  pastel = not dark and rng.random() < 0.25
  pairs = []
  for _ in range(n):
    h = hues[rng.integers(len(hues))] + rng.uniform(-0.03, 0.03)
    if dark:
      s, v = rng.uniform(0.3, 0.9), rng.uniform(0.25, 0.5)
    elif pastel:
      s, v = rng.uniform(0.1, 0.4), rng.uniform(0.85, 1.0)
    else:
      s, v = rng.uniform(0.3, 0.95), rng.uniform(0.55, 1.0)
    # Shadows: darker, a bit more saturated, hue nudged towards blue-violet.
    dh = 0.02 * math.copysign(1.0, ((0.7 - h + 0.5) % 1.0) - 0.5)
    shade = _hsv(h + dh, s * 1.1 + 0.05, v * rng.uniform(0.62, 0.8))
    pairs.append((_hsv(h, s, v), shade))
  return pairs


def _skin(rng):
  h, s, v = rng.uniform(0.04, 0.09), rng.uniform(0.12, 0.35), rng.uniform(0.88, 1.0)
  return _hsv(h, s, v), _hsv(h - 0.01, s + 0.12, v * 0.85)


# ----------------------------------------------------------------------------- geometry


def _ellipse(cx, cy, rx, ry, rot=0.0, n=48):
  t = np.linspace(0, 2 * np.pi, n, endpoint=False)
  x, y = rx * np.cos(t), ry * np.sin(t)
  c, s = math.cos(rot), math.sin(rot)
  return np.stack([cx + c * x - s * y, cy + s * x + c * y], -1)


def _blob(rng, cx, cy, r, n=64):
  """Closed smooth blob: a circle with a few random low harmonics on its radius."""
  t = np.linspace(0, 2 * np.pi, n, endpoint=False)
  rad = np.ones_like(t)
  for harmonic in range(2, 5):
    rad += rng.uniform(0.0, 0.25 / harmonic * 2) * np.sin(harmonic * t + rng.uniform(0, 2 * np.pi))
  rad = r * rad / rad.max() * 1.1
  return np.stack([cx + rad * np.cos(t), cy + rad * np.sin(t)], -1)


def _polygon(rng, cx, cy, r):
  """Star-shaped polygon with 3-7 vertices at random angles and radii."""
  n = int(rng.integers(3, 8))
  t = np.sort(rng.uniform(0, 2 * np.pi, n))
  # Keep vertices spread so the polygon is not a sliver.
  t = np.linspace(0, 2 * np.pi, n, endpoint=False) * 0.7 + t * 0.3 + rng.uniform(0, 2 * np.pi)
  rad = r * rng.uniform(0.7, 1.0, n)
  return np.stack([cx + rad * np.cos(t), cy + rad * np.sin(t)], -1)


def _random_shape(rng, side):
  cx, cy = rng.uniform(0.22, 0.78, 2) * side
  r = rng.uniform(0.07, 0.22) * side
  kind = rng.integers(3)
  if kind == 0:
    return _ellipse(cx, cy, r, r * rng.uniform(0.45, 1.0), rng.uniform(0, np.pi))
  if kind == 1:
    return _polygon(rng, cx, cy, r)
  return _blob(rng, cx, cy, r)


def _character(rng, side, pal, skin):
  """A simple figure: (points, colours) layers back to front."""
  s = rng.uniform(0.75, 1.05) * side
  cx = rng.uniform(0.4, 0.6) * side
  head_r = 0.13 * s
  head_cy = rng.uniform(0.32, 0.4) * side
  hair, cloth, eye = (pal[i % len(pal)] for i in rng.permutation(len(pal))[:3])
  layers = []
  # Back hair: a blob behind the head reaching the shoulders.
  back = _blob(rng, cx, head_cy + 0.25 * head_r, head_r * rng.uniform(1.25, 1.6))
  layers.append((back, hair))
  # Body: a trapezoid with rounded shoulders from below the chin to near the bottom.
  top = head_cy + head_r * 0.8
  bottom = min(side * (1 - _MARGIN - 0.02), top + 0.45 * s)
  sw, bw = head_r * rng.uniform(1.1, 1.5), head_r * rng.uniform(1.6, 2.3)
  shoulder = _ellipse(cx, top + 0.3 * head_r, sw, 0.5 * head_r, n=32)
  upper = shoulder[shoulder[:, 1] <= top + 0.3 * head_r]
  upper = upper[np.argsort(upper[:, 0])]
  body = np.concatenate([[[cx - bw, bottom]], upper, [[cx + bw, bottom]]])
  layers.append((body, cloth))
  layers.append((_ellipse(cx, head_cy, head_r, head_r * 1.08), skin))
  # Eyes: white then iris, each outlined.
  ey = head_cy + 0.15 * head_r
  for dx in (-0.42, 0.42):
    ex = cx + dx * head_r
    layers.append((_ellipse(ex, ey, 0.2 * head_r, 0.26 * head_r, n=24), ((250, 250, 250), None)))
    layers.append((_ellipse(ex, ey + 0.04 * head_r, 0.12 * head_r, 0.18 * head_r, n=24), eye))
  # Bangs: the top half of a wider circle with a zigzag lower edge over the forehead.
  hr = head_r * rng.uniform(1.12, 1.25)
  t = np.linspace(np.pi, 2 * np.pi, 25)
  arc = np.stack([cx + hr * np.cos(t), head_cy + 0.1 * head_r + hr * np.sin(t)], -1)
  n_tips = int(rng.integers(3, 6))
  xs = np.linspace(cx + hr, cx - hr, 2 * n_tips + 1)
  ys = np.where(np.arange(len(xs)) % 2 == 1, head_cy - 0.05 * head_r,
                head_cy - rng.uniform(0.3, 0.5) * head_r)
  ys[0] = ys[-1] = head_cy + 0.1 * head_r
  bangs = np.concatenate([arc, np.stack([xs, ys], -1)[1:-1]])
  layers.append((bangs, hair))
  return layers


# ----------------------------------------------------------------------------- drawing


def _pts(points):
  return [(float(x), float(y)) for x, y in points]


def draw_cel(seed, size=256):
  """Draws example `seed`: (colour uint8 (size, size, 3), sketch uint8 (size, size))."""
  rng = np.random.default_rng(seed)
  side = size * _SUPERSAMPLE
  color = Image.new("RGB", (side, side), (255, 255, 255))
  sketch = Image.new("L", (side, side), 255)
  cdraw, sdraw = ImageDraw.Draw(color), ImageDraw.Draw(sketch)
  pal = _palette(rng)
  light = rng.uniform(0, 2 * np.pi)  # one light direction per picture
  light_dir = np.array([math.cos(light), math.sin(light)])
  base_width = int(rng.integers(1, 5))

  layers = [(_random_shape(rng, side), pal[rng.integers(len(pal))])
            for _ in range(int(rng.integers(3, 8)))]
  if rng.random() < 0.6:
    # The figure goes in front of most background shapes, sometimes behind one or two.
    front = int(rng.choice(3, p=[0.6, 0.3, 0.1]))
    layers = layers[:len(layers) - front] + _character(rng, side, pal, _skin(rng)) + (
        layers[len(layers) - front:] if front else [])

  lo, hi = _MARGIN * side, (1 - _MARGIN) * side
  for points, (fill, shade) in layers:
    points = np.clip(points, lo, hi)
    poly = _pts(points)
    cdraw.polygon(poly, fill=fill)
    sdraw.polygon(poly, fill=255)  # hides the lines this shape covers
    if shade is not None and rng.random() < 0.85:
      _shade(rng, color, points, shade, light_dir)
    width = int(np.clip(base_width + rng.integers(-1, 2), 1, 4)) * _SUPERSAMPLE
    ring = poly + poly[:1]
    cdraw.line(ring, fill=(0, 0, 0), width=width, joint="curve")
    sdraw.line(ring, fill=0, width=width, joint="curve")

  color = np.asarray(color.reduce(_SUPERSAMPLE), np.uint8)
  sketch = np.asarray(sketch.reduce(_SUPERSAMPLE), np.uint8)
  return color, sketch


def _shade(rng, color, points, shade, light_dir):
  """Paints the shadow side of a shape in `shade`, bounded by a curve or a line."""
  x0, y0 = np.floor(points.min(0)).astype(int)
  x1, y1 = np.ceil(points.max(0)).astype(int) + 1
  w, h = x1 - x0, y1 - y0
  if w < 4 or h < 4:
    return
  local = points - [x0, y0]
  mask = Image.new("L", (w, h), 0)
  ImageDraw.Draw(mask).polygon(_pts(local), fill=255)
  extent = max(w, h)
  cut = Image.new("L", (w, h), 0)
  if rng.random() < 0.65:
    # Crescent: the shape minus itself moved towards the light; the boundary is a curve.
    moved = local + light_dir * extent * rng.uniform(0.15, 0.4)
    ImageDraw.Draw(cut).polygon(_pts(moved), fill=255)
    region = ImageChops.subtract(mask, cut)
  else:
    # Straight terminator: the half of the shape facing away from the light.
    centre = local.mean(0) - light_dir * extent * rng.uniform(-0.1, 0.25)
    normal = np.array([-light_dir[1], light_dir[0]])
    far = 4 * extent
    half = [centre + normal * far, centre + normal * far - light_dir * far,
            centre - normal * far - light_dir * far, centre - normal * far]
    ImageDraw.Draw(cut).polygon(_pts(half), fill=255)
    region = ImageChops.multiply(mask, cut)
  color.paste(shade, (int(x0), int(y0)), region)
