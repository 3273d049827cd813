"""Tests for jaxcolor.data.images: every PIL mode in, one-line errors out."""

import io
import os

import numpy as np
import pytest
from PIL import Image

from jaxcolor import color
from jaxcolor.data import images
from jaxcolor.errors import ImageError, UserError


def _save(img, path, **kw):
  img.save(path, **kw)
  return str(path)


def _rgba():
  a = np.zeros((4, 6, 4), np.uint8)
  a[..., :3] = (10, 20, 30)
  a[..., 3] = 255
  a[0, 0, 3] = 0  # fully transparent
  a[0, 1] = (0, 0, 0, 128)  # half-transparent black
  return a


def test_rgb_and_rgba(tmp_path):
  rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3)).astype(np.uint8)
  out = images.load_rgb(_save(Image.fromarray(rgb), tmp_path / "a.png"))
  assert out.dtype == np.uint8 and out.shape == (5, 7, 3)
  np.testing.assert_array_equal(out, rgb)
  out = images.load_rgb(_save(Image.fromarray(_rgba(), "RGBA"), tmp_path / "b.png"))
  np.testing.assert_array_equal(out[0, 0], (255, 255, 255))
  np.testing.assert_array_equal(out[0, 1], (127, 127, 127))
  np.testing.assert_array_equal(out[1, 1], (10, 20, 30))
  black = images.load_rgb(tmp_path / "b.png", background=(0, 0, 0))
  np.testing.assert_array_equal(black[0, 0], (0, 0, 0))
  assert images.load_gray(tmp_path / "b.png")[0, 0] == 255


def test_gray_modes(tmp_path):
  la = np.zeros((3, 3, 2), np.uint8)
  la[..., 0], la[..., 1] = 40, 255
  la[1, 1, 1] = 0
  out = images.load_rgb(_save(Image.fromarray(la, "LA"), tmp_path / "la.png"))
  np.testing.assert_array_equal(out[0, 0], (40, 40, 40))
  np.testing.assert_array_equal(out[1, 1], (255, 255, 255))
  gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
  out = images.load_rgb(_save(Image.fromarray(gray, "L"), tmp_path / "l.png"))
  np.testing.assert_array_equal(out, np.repeat(gray[..., None], 3, -1))
  np.testing.assert_array_equal(images.load_gray(tmp_path / "l.png"), gray)
  bits = Image.fromarray(np.array([[0, 255], [255, 0]], np.uint8)).convert("1")
  out = images.load_rgb(_save(bits, tmp_path / "one.png"))
  np.testing.assert_array_equal(out[..., 0], [[0, 255], [255, 0]])


def test_sixteen_bit_modes(tmp_path):
  vals = np.array([[0, 65535], [128 * 257, 1000]], np.uint16)
  img16 = Image.frombytes("I;16", (2, 2), vals.tobytes())
  out = images.load_rgb(_save(img16, tmp_path / "i16.png"))
  np.testing.assert_array_equal(out[..., 0], [[0, 255], [128, 4]])
  img32 = Image.fromarray(vals.astype(np.int32), "I")
  out = images.load_rgb(_save(img32, tmp_path / "i32.tif"))
  np.testing.assert_array_equal(out[..., 1], [[0, 255], [128, 4]])
  assert images.load_gray(tmp_path / "i16.png").dtype == np.uint8


def test_palette_modes(tmp_path):
  p = Image.fromarray(np.array([[0, 1], [2, 1]], np.uint8), "P")
  p.putpalette([200, 10, 10, 10, 200, 10, 10, 10, 200] + [0] * (256 * 3 - 9))
  out = images.load_rgb(_save(p, tmp_path / "p.png"))
  np.testing.assert_array_equal(out[0, 0], (200, 10, 10))
  out = images.load_rgb(_save(p, tmp_path / "pt.png", transparency=0))
  np.testing.assert_array_equal(out[0, 0], (255, 255, 255))
  np.testing.assert_array_equal(out[1, 0], (10, 10, 200))
  out = images.load_rgb(_save(p, tmp_path / "pt.gif", transparency=1))
  np.testing.assert_array_equal(out[0, 1], (255, 255, 255))


def test_cmyk_and_exif_and_bytes(tmp_path):
  cmyk = Image.new("CMYK", (3, 2), (0, 0, 0, 0))
  out = images.load_rgb(_save(cmyk, tmp_path / "c.tif"))
  np.testing.assert_array_equal(out, np.full((2, 3, 3), 255))
  tall = np.zeros((8, 4, 3), np.uint8)
  tall[:2] = 255
  exif = Image.Exif()
  exif[0x0112] = 6  # rotate 90 degrees clockwise on display
  path = _save(Image.fromarray(tall), tmp_path / "r.jpg", exif=exif.tobytes(), quality=95)
  out = images.load_rgb(path)
  assert out.shape == (4, 8, 3)
  assert out[:, -2:].mean() > 200 and out[:, :2].mean() < 50
  data = images.encode_png(tall)
  np.testing.assert_array_equal(images.load_rgb(data), tall)


def _check_error(path, match):
  with pytest.raises(ImageError, match=match) as info:
    images.load_rgb(path)
  msg = str(info.value)
  assert str(path) in msg and "\n" not in msg


def test_bad_files(tmp_path):
  _check_error(tmp_path / "missing.png", "no such file")
  (tmp_path / "zero.png").write_bytes(b"")
  _check_error(tmp_path / "zero.png", "empty")
  noisy = np.random.default_rng(0).integers(0, 256, (64, 64, 3)).astype(np.uint8)
  data = images.encode_png(noisy)
  (tmp_path / "trunc.png").write_bytes(data[:len(data) // 2])
  _check_error(tmp_path / "trunc.png", "truncated or corrupt")
  (tmp_path / "rand.png").write_bytes(np.random.default_rng(1).bytes(500))
  _check_error(tmp_path / "rand.png", "not a recognised image")
  (tmp_path / "notes.jpg").write_text("hello, I am not a picture\n")
  _check_error(tmp_path / "notes.jpg", "not a recognised image")
  with pytest.raises(ImageError, match="<bytes>"):
    images.load_rgb(b"")


def test_decompression_bomb(tmp_path, monkeypatch):
  path = _save(Image.new("1", (40, 40)), tmp_path / "bomb.png")
  big = _save(Image.new("1", (100, 100)), tmp_path / "bigbomb.png")
  assert images.load_rgb(path).shape == (40, 40, 3)
  with pytest.raises(ImageError, match="too large"):
    images.load_rgb(path, max_pixels=1000)
  monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
  _check_error(path, "too large")  # between 1x and 2x the limit: PIL only warns
  _check_error(big, "too large")  # over 2x: PIL raises


def test_pil_globals_untouched(tmp_path):
  before = Image.MAX_IMAGE_PIXELS
  from PIL import ImageFile
  images.load_rgb(_save(Image.new("RGB", (2, 2)), tmp_path / "x.png"))
  assert Image.MAX_IMAGE_PIXELS == before and not ImageFile.LOAD_TRUNCATED_IMAGES


def test_list_images(tmp_path):
  for rel in ("b.png", "a/c.JPG", "a/d.txt", ".hidden/e.png", "z.webp", "a/b/f.tiff"):
    (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / rel).write_bytes(b"x")
  found = [os.path.relpath(p, tmp_path) for p in images.list_images(tmp_path)]
  assert found == ["a/b/f.tiff", "a/c.JPG", "b.png", "z.webp"]
  flat = [os.path.relpath(p, tmp_path) for p in images.list_images(tmp_path, recursive=False)]
  assert flat == ["b.png", "z.webp"]
  with pytest.raises(UserError):
    images.list_images(tmp_path / "nope")


def test_save_image_atomic_and_protected(tmp_path):
  arr = np.random.default_rng(0).integers(0, 256, (6, 5, 3)).astype(np.uint8)
  path = tmp_path / "out" / "x.png"
  images.save_image(arr, path)
  np.testing.assert_array_equal(images.load_rgb(path), arr)
  images.save_image(arr[..., 0], path)  # overwrite is fine unless protected
  assert os.listdir(path.parent) == ["x.png"]
  with pytest.raises(UserError, match="refusing"):
    images.save_image(arr, path, protect={str(path)})
  images.save_image(Image.fromarray(arr).convert("RGBA"), tmp_path / "y.jpg")
  assert images.load_rgb(tmp_path / "y.jpg").shape == (6, 5, 3)
  with pytest.raises(UserError, match="extension"):
    images.save_image(arr, tmp_path / "z.xyz")


def test_float_conversions():
  u = np.arange(256, dtype=np.uint8)
  f = color.to_float(u)
  assert f.dtype == np.float32 and f[0] == -1.0 and f[-1] == 1.0
  np.testing.assert_array_equal(color.to_uint8(f), u)
  np.testing.assert_array_equal(color.to_uint8(np.array([-3.0, 3.0])), [0, 255])
  assert isinstance(images.encode_png(np.zeros((2, 2), np.uint8)), bytes)
  assert io.BytesIO(images.encode_png(np.zeros((2, 2, 4), np.uint8))).read(4) == b"\x89PNG"
