"""Host-side augmentation in numpy; all randomness comes from a passed np.random.Generator."""

import math

import numpy as np
from PIL import Image
from scipy import ndimage

from jaxcolor import color

_RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114],
                        [0.596, -0.274, -0.322],
                        [0.211, -0.523, 0.312]])
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ)


def random_resized_crop_params(rng, h, w, scale=(0.5, 1.0), ratio=(3 / 4, 4 / 3)):
  """Box (top, left, ch, cw) covering a random area fraction and aspect ratio.

  Ten tries as in torchvision's RandomResizedCrop; then a centre crop with the ratio
  clamped into `ratio`.
  """
  area = h * w
  log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
  for _ in range(10):
    target = area * rng.uniform(scale[0], scale[1])
    aspect = math.exp(rng.uniform(*log_ratio))
    cw = int(round(math.sqrt(target * aspect)))
    ch = int(round(math.sqrt(target / aspect)))
    if 0 < cw <= w and 0 < ch <= h:
      top = int(rng.integers(0, h - ch + 1))
      left = int(rng.integers(0, w - cw + 1))
      return top, left, ch, cw
  in_ratio = w / h
  if in_ratio < ratio[0]:
    cw, ch = w, int(round(w / ratio[0]))
  elif in_ratio > ratio[1]:
    ch, cw = h, int(round(h * ratio[1]))
  else:
    cw, ch = w, h
  ch, cw = max(1, min(ch, h)), max(1, min(cw, w))
  return (h - ch) // 2, (w - cw) // 2, ch, cw


def crop_resize(img, box, size, resample=Image.Resampling.BILINEAR):
  """Crops uint8 (H, W) or (H, W, C) to box (top, left, ch, cw), resizes to `size`.

  size: int (square) or (height, width). PIL filters antialias when shrinking.
  """
  top, left, ch, cw = box
  out_h, out_w = (size, size) if np.isscalar(size) else size
  img = np.asarray(img)
  crop = np.ascontiguousarray(img[top:top + ch, left:left + cw])
  if crop.shape[:2] == (out_h, out_w):
    return crop
  squeeze = crop.ndim == 3 and crop.shape[-1] == 1
  pil = Image.fromarray(crop[..., 0] if squeeze else crop)
  out = np.asarray(pil.resize((out_w, out_h), resample), img.dtype)
  return out[..., None] if squeeze else out


def hflip(img):
  """Mirror left-right."""
  return np.ascontiguousarray(np.asarray(img)[:, ::-1])


def color_jitter(rgb, rng, brightness=0.2, contrast=0.2, saturation=0.2, hue=0.05):
  """Random brightness, contrast, saturation and hue (fraction of a turn), in that order.

  Hue turns the chroma plane of YIQ, a linear stand-in for an HSV hue shift.
  """
  # Draw every factor, even unused ones, so the stream does not depend on the arguments.
  b, c, s = rng.uniform(-1.0, 1.0, 3) * [brightness, contrast, saturation] + 1.0
  angle = rng.uniform(-1.0, 1.0) * hue * 2 * np.pi
  x = np.asarray(rgb, np.float32) / 255.0
  x = np.clip(x * b, 0.0, 1.0)
  mean = float(color.luma(x).mean())
  x = np.clip((x - mean) * c + mean, 0.0, 1.0)
  gray = color.luma(x)[..., None]
  x = np.clip((x - gray) * s + gray, 0.0, 1.0)
  if angle:
    cos, sin = math.cos(angle), math.sin(angle)
    rot = np.array([[1, 0, 0], [0, cos, -sin], [0, sin, cos]])
    m = (_YIQ_TO_RGB @ rot @ _RGB_TO_YIQ).astype(np.float32)
    x = np.clip(x @ m.T, 0.0, 1.0)
  return np.rint(x * 255.0).astype(np.uint8)


def _tps_kernel(r2):
  """Thin-plate radial basis U(r) = r^2 log r^2, with U(0) = 0."""
  return np.where(r2 > 0, r2 * np.log(np.maximum(r2, 1e-300)), 0.0)


def tps_fit(ctrl_from, ctrl_to):
  """Thin-plate spline f with f(ctrl_from[i]) = ctrl_to[i]: parameters (n + 3, 2)."""
  ctrl_from = np.asarray(ctrl_from, np.float64)
  ctrl_to = np.asarray(ctrl_to, np.float64)
  n = len(ctrl_from)
  k = _tps_kernel(((ctrl_from[:, None] - ctrl_from[None]) ** 2).sum(-1))
  p = np.concatenate([np.ones((n, 1)), ctrl_from], 1)
  a = np.zeros((n + 3, n + 3))
  a[:n, :n], a[:n, n:], a[n:, :n] = k, p, p.T
  rhs = np.concatenate([ctrl_to, np.zeros((3, 2))], 0)
  return np.linalg.solve(a, rhs)


def tps_transform(points, ctrl_from, ctrl_to):
  """Evaluates the spline through (ctrl_from -> ctrl_to) at points (..., 2)."""
  params = tps_fit(ctrl_from, ctrl_to)
  ctrl_from = np.asarray(ctrl_from, np.float64)
  pts = np.asarray(points, np.float64)
  flat = pts.reshape(-1, 2)
  u = _tps_kernel(((flat[:, None] - ctrl_from[None]) ** 2).sum(-1))
  n = len(ctrl_from)
  out = u @ params[:n] + params[n] + flat @ params[n + 1:]
  return out.reshape(pts.shape)


def _tps_grid(ctrl_from, ctrl_to, xs, ys):
  """`tps_transform` on the grid xs (W,) x ys (H,): (x, y) maps, each (H, W).

  Separable squared distances and float32 radial terms: ~4x faster than the general
  path at 256x256, with sub-1e-3 pixel error.
  """
  params = tps_fit(ctrl_from, ctrl_to)
  n = len(ctrl_from)
  xs32, ys32 = np.asarray(xs, np.float32), np.asarray(ys, np.float32)
  acc = np.zeros((2, len(ys), len(xs)), np.float32)
  for (cx, cy), (wx, wy) in zip(np.asarray(ctrl_from, np.float32), params[:n]):
    r2 = (ys32 - cy)[:, None] ** 2 + ((xs32 - cx) ** 2)[None, :]
    u = r2 * np.log(r2 + np.float32(1e-30))  # U(0) = 0 * log(tiny) = 0
    acc[0] += np.float32(wx) * u
    acc[1] += np.float32(wy) * u
  a0, ax, ay = params[n], params[n + 1], params[n + 2]
  mx = acc[0] + (a0[0] + ax[0] * xs[None, :] + ay[0] * ys[:, None])
  my = acc[1] + (a0[1] + ax[1] * xs[None, :] + ay[1] * ys[:, None])
  return mx, my


def tps_control_points(rng, shift=0.25, p_range=(0.3, 0.7), min_gap=0.2):
  """SCFT control points, normalised (x, y): returns (source, destination), each (6, 2).

  Four fixed corners and two points on the main diagonal at p ~ U[p_range], each moved
  by U[-shift, shift] per axis. The two are kept `min_gap` apart along the diagonal:
  coincident points with different shifts would fold the image.
  """
  p = np.sort(rng.uniform(p_range[0], p_range[1], 2))
  if p[1] - p[0] < min_gap:
    mid = np.clip(p.mean(), p_range[0] + min_gap / 2, p_range[1] - min_gap / 2)
    p = np.array([mid - min_gap / 2, mid + min_gap / 2])
  corners = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
  inner = np.stack([p, p], -1)
  src = np.concatenate([corners, inner])
  dst = src.copy()
  dst[4:] += rng.uniform(-shift, shift, (2, 2))
  return src, dst


def tps_warp(rgb, rng, shift=0.25, p_range=(0.3, 0.7), fill=255, match_cells=None):
  """Thin-plate-spline warp (SCFT): content at the source points moves to the destinations.

  Bilinear sampling; pixels that come from outside the image are `fill` (white).
  With `match_cells` = (rows, cols) it also returns `warp_match` of the same control
  points: which cell of the input each cell of the output shows (the positives of SCFT's
  triplet loss). It draws nothing more from `rng` either way.
  """
  rgb = np.asarray(rgb)
  h, w = rgb.shape[:2]
  src, dst = tps_control_points(rng, shift, p_range)
  # Output pixel centres in normalised coordinates, mapped back to where they come from.
  ys, xs = (np.arange(h) + 0.5) / h, (np.arange(w) + 0.5) / w
  bx, by = _tps_grid(dst, src, xs, ys)
  coords = np.stack([by * h - 0.5, bx * w - 0.5])
  planes = rgb.reshape(h, w, -1).astype(np.float32)
  out = np.stack([
      ndimage.map_coordinates(planes[..., ch], coords, order=1, mode="grid-constant",
                              cval=float(fill), prefilter=False)
      for ch in range(planes.shape[-1])], -1)
  out = np.clip(np.rint(out), 0, 255).astype(np.uint8).reshape(rgb.shape)
  if match_cells is None:
    return out
  return out, warp_match(src, dst, *match_cells)


NO_MATCH = -1


def warp_match(src, dst, rows: int, cols: int) -> np.ndarray:
  """int32 (rows * cols,): for each cell of the warped image (row-major), the row-major
  index of the input's cell its centre comes from, or NO_MATCH when that lies outside.
  """
  ys, xs = (np.arange(rows) + 0.5) / rows, (np.arange(cols) + 0.5) / cols
  bx, by = _tps_grid(dst, src, xs, ys)
  inside = (bx >= 0) & (bx < 1) & (by >= 0) & (by < 1)
  r = np.clip(np.floor(by * rows), 0, rows - 1).astype(np.int32)
  c = np.clip(np.floor(bx * cols), 0, cols - 1).astype(np.int32)
  return np.where(inside, r * cols + c, NO_MATCH).astype(np.int32).reshape(-1)


def augmented_reference(rgb, rng, match_cells=None):
  """The 'augmented self' reference: colour jitter, then a TPS warp (see `tps_warp`)."""
  return tps_warp(color_jitter(rgb, rng), rng, match_cells=match_cells)


# Part ids below this are paper (0) and ink (1): never recoloured, never dotted.
FIRST_COLOR_PART = 2


def part_colors(rgb, parts, min_pixels=1):
  """{part id: median uint8 colour} of each colour part with at least min_pixels pixels."""
  rgb = np.asarray(rgb)
  parts = np.asarray(parts)
  out = {}
  for p in np.unique(parts):
    if p < FIRST_COLOR_PART:
      continue
    mask = parts == p
    if mask.sum() >= min_pixels:
      out[int(p)] = np.median(rgb[mask], axis=0).round().astype(np.uint8)
  return out


def recolor_parts(rgb, parts, rng, share=0.5):
  """Gives a random share of the colour parts a new random colour: (image, recoloured ids).

  Each pixel of a chosen part moves by (new colour - the part's median), so flat fills get
  exactly the new colour and shading inside a part keeps its steps. The part map says
  exactly which pixels move, so the line art and the other parts stay as they were.
  """
  rgb = np.asarray(rgb)
  out = rgb.astype(np.int16)
  changed = []
  for p, median in part_colors(rgb, parts).items():
    if rng.random() >= share:
      continue
    new = rng.integers(0, 256, 3)
    mask = parts == p
    out[mask] += (new - median.astype(np.int16)).astype(np.int16)
    changed.append(p)
  return np.clip(out, 0, 255).astype(np.uint8), changed
