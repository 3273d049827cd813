"""Robust image reading and writing: any PIL mode in, uint8 arrays out, one-line errors."""

import io
import os
import pathlib
import tempfile
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from jaxcolor.errors import ImageError, UserError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")

_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")


def _first_line(exc):
  text = str(exc).strip().splitlines()
  return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _open(path_or_bytes, max_pixels):
  """Opens and fully decodes an image; every failure becomes an ImageError."""
  if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
    name, source = "<bytes>", io.BytesIO(bytes(path_or_bytes))
    if not len(path_or_bytes):
      raise ImageError(name, "empty data")
  else:
    name = os.fspath(path_or_bytes)
    if not os.path.exists(name):
      raise ImageError(name, "no such file")
    if os.path.isdir(name):
      raise ImageError(name, "is a folder, not an image")
    try:
      with open(name, "rb") as f:
        data = f.read()
    except OSError as e:
      raise ImageError(name, f"cannot read file ({_first_line(e)})") from None
    if not data:
      raise ImageError(name, "empty file (0 bytes)")
    # Decoding from memory leaves no file handle open (multi-frame formats keep theirs).
    source = io.BytesIO(data)
  limit = Image.MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
  try:
    # PIL warns (not raises) between 1x and 2x its limit: make that an error here only.
    with warnings.catch_warnings():
      warnings.simplefilter("error", Image.DecompressionBombWarning)
      img = Image.open(source)
      if limit and img.width * img.height > limit:
        raise ImageError(name, f"image too large ({img.width}x{img.height} pixels, "
                         f"limit {limit}): possible decompression bomb")
      img.load()  # PIL decodes lazily; truncation only shows here.
  except ImageError:
    raise
  except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
    raise ImageError(name, f"image too large: {_first_line(e)}") from None
  except UnidentifiedImageError:
    raise ImageError(name, "not a recognised image file") from None
  except Exception as e:  # pylint: disable=broad-except
    # Decoders raise OSError, SyntaxError, ValueError, struct.error... on corrupt data.
    raise ImageError(name, f"truncated or corrupt image ({_first_line(e)})") from None
  try:
    img = ImageOps.exif_transpose(img)
  except Exception:  # pylint: disable=broad-except
    pass  # A broken EXIF block should not lose an otherwise readable image.
  return name, img


def open_image(path_or_bytes, max_pixels=None):
  """(name, fully decoded PIL image); every failure is an ImageError naming the file."""
  return _open(path_or_bytes, max_pixels)


def _composite(rgba, background):
  """uint8 (H, W, 4) -> (H, W, 3) over a flat background colour (rounded)."""
  a = rgba[..., 3:].astype(np.float32) / 255.0
  rgb = rgba[..., :3].astype(np.float32)
  bg = np.asarray(background, np.float32).reshape(1, 1, 3)
  return np.clip(np.rint(rgb * a + bg * (1.0 - a)), 0, 255).astype(np.uint8)


def _to_rgb_array(img, background):
  """Any PIL image -> uint8 (H, W, 3); alpha composited onto `background`."""
  mode = img.mode
  if mode.startswith("I;16") or mode in ("I", "F"):
    # 16-bit / 32-bit integer data is taken as 0..65535; float data as 0..1 if it fits.
    arr = np.asarray(img, np.float64)
    if mode == "F":
      scale = 255.0 if np.nanmax(arr, initial=0.0) <= 1.0 else 1.0
    else:
      arr = np.clip(arr, 0, 65535)
      scale = 255.0 / 65535.0
    gray = np.clip(np.rint(np.nan_to_num(arr) * scale), 0, 255).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=-1)
  if mode == "RGB" and "transparency" not in img.info:
    return np.asarray(img, np.uint8)
  if mode in _ALPHA_MODES or "transparency" in img.info:
    return _composite(np.asarray(img.convert("RGBA"), np.uint8), background)
  return np.asarray(img.convert("RGB"), np.uint8)


def load_rgb(path_or_bytes, background=(255, 255, 255), max_pixels=None):
  """Reads an image (path or bytes) as uint8 (H, W, 3); raises ImageError on any problem.

  max_pixels None = PIL's Image.MAX_IMAGE_PIXELS, read at call time.
  """
  name, img = _open(path_or_bytes, max_pixels)
  try:
    return np.ascontiguousarray(_to_rgb_array(img, background))
  except Exception as e:  # pylint: disable=broad-except
    raise ImageError(name, f"cannot convert mode {img.mode} to RGB ({_first_line(e)})") from None


def load_gray(path_or_bytes, background=(255, 255, 255), max_pixels=None):
  """Reads an image as uint8 (H, W) (PIL 'L' weights, alpha composited first)."""
  rgb = load_rgb(path_or_bytes, background, max_pixels)
  if rgb.shape[-1] == 3 and np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(
      rgb[..., 0], rgb[..., 2]):
    return rgb[..., 0].copy()
  return np.asarray(Image.fromarray(rgb, "RGB").convert("L"), np.uint8)


def list_images(folder, recursive=True):
  """Sorted list of image file paths (str) under `folder`, by extension."""
  root = pathlib.Path(folder)
  if not root.is_dir():
    raise UserError(f"{folder}: no such folder")
  pattern = "**/*" if recursive else "*"
  found = [p for p in root.glob(pattern)
           if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
           and not any(part.startswith(".") for part in p.relative_to(root).parts)]
  return [str(p) for p in sorted(found, key=lambda p: p.relative_to(root).as_posix())]


def _to_pil(array_or_pil):
  if isinstance(array_or_pil, Image.Image):
    return array_or_pil
  arr = np.asarray(array_or_pil)
  if arr.dtype != np.uint8:
    raise UserError(f"image array must be uint8, got {arr.dtype}")
  if arr.ndim == 3 and arr.shape[-1] == 1:
    arr = arr[..., 0]
  if arr.ndim == 2:
    return Image.fromarray(arr, "L")
  if arr.ndim == 3 and arr.shape[-1] in (3, 4):
    return Image.fromarray(np.ascontiguousarray(arr), "RGB" if arr.shape[-1] == 3 else "RGBA")
  raise UserError(f"cannot make an image of an array shaped {arr.shape}")


def as_rgb(image, background=(255, 255, 255)) -> np.ndarray:
  """Path, bytes, PIL image or uint8 array ((H, W), (H, W, 1|3|4)) -> uint8 (H, W, 3).

  Alpha is composited onto `background`; files go through `load_rgb`.
  """
  if isinstance(image, (str, os.PathLike, bytes, bytearray, memoryview)):
    rgb = load_rgb(image, background)
  else:
    rgb = _to_rgb_array(_to_pil(image), background)
  if rgb.shape[0] == 0 or rgb.shape[1] == 0:
    raise UserError(f"image is empty: shape {rgb.shape}")
  return np.ascontiguousarray(rgb)


def encode_png(array, compress_level=6):
  """uint8 (H, W), (H, W, 1|3|4) array or PIL image -> PNG bytes."""
  buf = io.BytesIO()
  _to_pil(array).save(buf, format="PNG", compress_level=compress_level)
  return buf.getvalue()


def save_image(array_or_pil, path, protect=()):
  """Writes atomically (temp file in the same folder, then os.replace).

  Refuses to overwrite any path in `protect` (e.g. the input files) with a UserError.
  """
  path = pathlib.Path(path)
  if any(path.resolve() == pathlib.Path(p).resolve() for p in protect):
    raise UserError(f"{path}: refusing to overwrite an input file")
  fmt = Image.registered_extensions().get(path.suffix.lower())
  if fmt is None:
    raise UserError(f"{path}: unknown image extension {path.suffix!r}")
  img = _to_pil(array_or_pil)
  if fmt == "JPEG" and img.mode not in ("RGB", "L"):
    img = img.convert("RGB")
  path.parent.mkdir(parents=True, exist_ok=True)
  fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
  try:
    with os.fdopen(fd, "wb") as f:
      img.save(f, format=fmt)
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def resize_square(img: np.ndarray, size: int) -> np.ndarray:
  """Resizes uint8 (H, W[, 3]) to (size, size) with antialiased bicubic."""
  if img.shape[0] == size and img.shape[1] == size:
    return img
  pil = Image.fromarray(img).resize((size, size), Image.Resampling.BICUBIC)
  return np.asarray(pil)


def center_square(img: np.ndarray, size: int) -> np.ndarray:
  """Short side to `size`, then the centre size x size crop."""
  h, w = img.shape[:2]
  s = min(h, w)
  top, left = (h - s) // 2, (w - s) // 2
  return resize_square(img[top:top + s, left:left + s], size)
