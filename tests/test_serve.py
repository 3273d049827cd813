"""`jaxcolor serve`: the Starlette app around a Colorizer of the tiny trained model.

Results are checked pixel for pixel against `Colorizer` itself; bad uploads must get a
4xx JSON error and leave the server working; requests queue for the one model thread;
a size bucket compiles once.
"""

import base64
import copy
import functools
import io
import json
import os
import pathlib
import re
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("starlette")
pytest.importorskip("python_multipart")
from starlette.testclient import TestClient  # pylint: disable=wrong-import-position

from jaxcolor import cli
from jaxcolor import infer  # pylint: disable=wrong-import-position
from jaxcolor import hints  # pylint: disable=wrong-import-position
from test_infer import make_sketch as infer_sketch  # pylint: disable=wrong-import-position
from jaxcolor import serve  # pylint: disable=wrong-import-position
from jaxcolor.data import images  # pylint: disable=wrong-import-position
from jaxcolor.errors import UserError  # pylint: disable=wrong-import-position

ROOT = pathlib.Path(__file__).resolve().parents[1]
MAX_BYTES = 2 * 1024 * 1024
PALETTE = ["#f4d3b5", "#2e4057", "#c0392b"]


# --------------------------------------------------------------------------- inputs


def make_sketch(h, w, seed=0):
  """uint8 RGB line art: test_infer's sketch as an RGB image."""
  return np.repeat(infer_sketch(h, w, seed)[..., None], 3, axis=-1)


def make_reference(h=48, w=40, seed=1):
  rng = np.random.default_rng(seed)
  blocks = rng.integers(0, 256, (4, 4, 3)).astype(np.uint8)
  return np.asarray(Image.fromarray(blocks).resize((w, h), Image.Resampling.NEAREST))


def png(array):
  return images.encode_png(array)


def png_header(w, h):
  """A PNG whose header claims w x h pixels (a decompression bomb's first bytes)."""
  def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
  ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
  return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
          + chunk(b"IEND", b""))


def post(client, sketch=None, reference=None, url="/api/colorize", **fields):
  files = {}
  if sketch is not None:
    files["sketch"] = ("../../etc/passwd", sketch, "image/png")  # a name never used
  if reference is not None:
    files["reference"] = ("ref.png", reference, "image/png")
  data = {k: v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()
          if v is not None}
  return client.post(url, files=files, data=data)


def decode(data_url):
  prefix = "data:image/png;base64,"
  assert data_url.startswith(prefix)
  return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_url[len(prefix):]))))


def ok_images(response):
  assert response.status_code == 200, response.text
  return [decode(u) for u in response.json()["images"]]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def colorizer(trained_run):
  workdir, _ = trained_run
  return infer.Colorizer.from_checkpoint(str(workdir))


@pytest.fixture(scope="module")
def app(colorizer):
  return serve.make_app(colorizer, max_bytes=MAX_BYTES)


@pytest.fixture(scope="module")
def client(app):
  with TestClient(app) as c:
    yield c


@pytest.fixture(scope="module")
def points_colorizer(colorizer):
  """The tiny model's architecture with colour-point inputs, at its initial parameters.

  The trained tiny model takes no points; random weights are all a pixel-for-pixel
  comparison with Colorizer needs.
  """
  from jaxcolor import models  # pylint: disable=g-import-not-at-top
  config = copy.deepcopy(colorizer.config)
  with config.unlocked():
    config.model.points = True
  params = models.init_generator(config.model, 0, config.image_size)
  points_colorizer = infer.Colorizer(config, params, step=0, source="initial parameters")
  assert serve.accepts_points(points_colorizer)
  return points_colorizer


@pytest.fixture(scope="module")
def points_client(points_colorizer):
  with TestClient(serve.make_app(points_colorizer, max_bytes=MAX_BYTES)) as c:
    yield c


# --------------------------------------------------------------------------- helpers (no model)


def test_points_image_draws_discs():
  pts = [{"x": 10, "y": 5, "color": "#ff0000"}, (12, 5, (0, 0, 255))]
  out = hints.points_image(pts, 20, 30, radius=2)
  assert out.shape == (20, 30, 4) and out.dtype == np.uint8
  np.testing.assert_array_equal(out[5, 8], [255, 0, 0, 255])     # left edge of the red disc
  np.testing.assert_array_equal(out[5, 12], [0, 0, 255, 255])    # blue centre
  np.testing.assert_array_equal(out[5, 11], [0, 0, 255, 255])    # later points paint over
  np.testing.assert_array_equal(out[5, 14], [0, 0, 255, 255])
  assert out[5, 15, 3] == 0 and out[8, 10, 3] == 0 and out[3, 10, 3] == 255
  # A disc of radius 2: 13 pixels; two overlapping ones: 13 + 13 - overlap.
  single = hints.points_image([(10, 10, (1, 2, 3))], 20, 30, radius=2)
  assert (single[..., 3] == 255).sum() == 13
  assert set(np.unique(single[..., 3])) == {0, 255}


def test_points_image_radius_and_scale():
  assert hints.point_radius(512, 300) == 3
  assert hints.point_radius(100, 80) == 3
  assert hints.point_radius(1024, 1024) == 6
  assert hints.point_radius(600, 2048) == 12
  # Points in a 200x100 sketch's pixels drawn on its 100x50 working size.
  out = hints.points_image([(199, 99, (9, 9, 9)), (0, 0, (8, 8, 8))], 50, 100,
                           scale=(0.5, 0.5), radius=0)
  assert out[49, 99, 3] == 255 and out[0, 0, 3] == 255 and (out[..., 3] > 0).sum() == 2
  # Points at the border are clipped, not dropped.
  edge = hints.points_image([(0, 0, (1, 1, 1))], 10, 10, radius=3)
  assert edge[0, 0, 3] == 255 and edge[3, 0, 3] == 255 and edge[0, 4, 3] == 0


def test_bucket_side():
  assert [serve.bucket_side(n) for n in (1, 64, 65, 200, 512, 513, 640, 641, 1000, 1024)] == [
      64, 64, 128, 256, 512, 640, 640, 768, 1024, 1024]
  assert serve.bucket_side(1000, max_side=1000) == 1000  # never past the working size


def test_parse_fields():
  assert serve.parse_palette(None) is None and serve.parse_palette("[]") is None
  assert serve.parse_palette('["#abc", "#A0b1C2"]') == ["#abc", "#A0b1C2"]
  for bad in ("#abc", '["#12345g"]', '"#abcdef"', "[1, 2]", "{"):
    with pytest.raises(serve.HTTPError, match="palette"):
      serve.parse_palette(bad)
  assert serve.parse_points('[{"x": 1, "y": 2, "color": "#102030"}]', 5, 5) == [
      (1, 2, (16, 32, 48))]
  for bad, what in (("[{", "JSON"), ('{"x": 1}', "list"), ('[{"x": 1, "y": 2}]', "point 0"),
                    ('[{"x": 1.5, "y": 2, "color": "#fff"}]', "point 0"),
                    ('[{"x": true, "y": 2, "color": "#fff"}]', "point 0"),
                    ('[{"x": 1, "y": 2, "color": "red"}]', "colour"),
                    ('[{"x": 5, "y": 2, "color": "#fff"}]', "outside the 5x5")):
    with pytest.raises(serve.HTTPError, match=what):
      serve.parse_points(bad, 5, 5)
  assert serve.parse_int("", "seed", 0, 9) is None and serve.parse_int(" 7 ", "seed", 0, 9) == 7
  for bad in ("abc", "1.5", "-1", "10"):
    with pytest.raises(serve.HTTPError, match="seed must be a whole number from 0 to 9"):
      serve.parse_int(bad, "seed", 0, 9)


# --------------------------------------------------------------------------- routes


def test_page_and_static_files(client):
  r = client.get("/")
  assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
  assert "default-src 'self'" in r.headers["content-security-policy"]
  for needle in ('id="sketch-file"', 'id="reference-file"', 'id="colorize"', 'id="variations"',
                 'id="seed"', 'id="point-color"', 'id="undo-point"', 'id="clear-points"',
                 'id="save-palette"', 'id="load-palette-button"', 'aria-busy="false"',
                 "/static/app.js", "/static/style.css"):
    assert needle in r.text, needle
  js = client.get("/static/app.js")
  assert js.status_code == 200 and "javascript" in js.headers["content-type"]
  css = client.get("/static/style.css")
  assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
  # Nothing is fetched from another site: no CDN, no web fonts.
  for text in (r.text, js.text, css.text):
    assert not re.search(r"https?://|//cdn|@import", text)
  assert client.get("/static/nope.js").status_code == 404
  assert client.get("/static/../serve.py").status_code == 404
  assert client.get("/static/%2e%2e/serve.py").status_code == 404


def test_health(client, colorizer):
  r = client.get("/api/health")
  assert r.status_code == 200
  info = r.json()
  assert info["status"] == "ok" and info["family"] == "palette" and info["hint"] == "palette"
  assert info["step"] == colorizer.step == 4 and info["source"] == colorizer.source
  assert info["max_bytes"] == MAX_BYTES and info["max_pixels"] == serve.DEFAULT_MAX_PIXELS
  assert info["points"] is serve.accepts_points(colorizer) and info["has_noise"] is True
  assert client.get("/api/colorize").status_code == 405


def test_palette_route(client, colorizer):
  ref = make_reference()
  r = post(client, reference=png(ref), url="/api/palette")
  assert r.status_code == 200, r.text
  data = r.json()
  expected = list(dict.fromkeys(hints.to_hex(colorizer.hint_colors(reference=ref))))
  assert data["colors"] == expected and data["editable"] is True
  assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in data["colors"])
  # Sent back as a palette, the distinct colours give the model the reference's hint.
  np.testing.assert_array_equal(colorizer.hint_colors(palette=data["colors"]),
                                colorizer.hint_colors(reference=ref))
  for kwargs, status, what in (({"sketch": png(ref)}, 400, "no reference"),
                               ({"reference": b"not an image"}, 400, "reference: not a rec"),
                               ({"reference": png_header(50000, 50000)}, 413, "too large")):
    r = post(client, url="/api/palette", seed="1", **kwargs)
    assert r.status_code == status and what in r.json()["error"], r.text


def test_colorize_equals_colorizer_with_everything(points_client, points_colorizer):
  """Sketch + reference + edited palette + points: the palette wins over the reference."""
  client, colorizer = points_client, points_colorizer
  assert client.get("/api/health").json()["points"] is True
  h, w = 128, 192  # a bucket's own size: no padding, so the result is Colorizer's exactly
  sketch, ref = make_sketch(h, w), make_reference()
  points = [{"x": 20, "y": 30, "color": "#00ff00"}, {"x": 150, "y": 100, "color": "#3050a0"}]
  got = ok_images(post(client, png(sketch), png(ref), palette=PALETTE, points=points))
  rgba = hints.points_image(points, h, w)
  want = np.asarray(colorizer(sketch, palette=PALETTE, points=rgba))
  assert got[0].shape == (h, w, 3)
  np.testing.assert_array_equal(got[0], want)
  # The points matter (else this test would not test them).
  assert not np.array_equal(want, np.asarray(colorizer(sketch, palette=PALETTE)))
  # With a seed and as variations too.
  got = ok_images(post(client, png(sketch), png(ref), palette=PALETTE, points=points, seed="2",
                       variations="2"))
  want = colorizer.variations(sketch, palette=PALETTE, points=rgba, k=2, seed=2)
  for g, wi in zip(got, want):
    np.testing.assert_array_equal(g, np.asarray(wi))


def test_points_alone(points_client, points_colorizer):
  """Points without reference or palette: whatever Colorizer makes of them, or its error."""
  sketch = make_sketch(128, 192, seed=11)
  points = [{"x": 40, "y": 40, "color": "#e04040"}, {"x": 100, "y": 90, "color": "#40a0e0"}]
  r = post(points_client, png(sketch), points=points)
  try:
    want = points_colorizer(sketch, points=hints.points_image(points, 128, 192))
  except UserError as e:
    assert r.status_code == 400 and r.json()["error"] == str(e)
  else:
    np.testing.assert_array_equal(ok_images(r)[0], np.asarray(want))


def test_bad_points_on_a_points_model(points_client, points_colorizer):
  good = png(GOOD_SKETCH)
  for points, message in (("[{x: 1}", "points must be JSON"),
                          ({"x": 1, "y": 1, "color": "#fff"}, "JSON list"),
                          ([{"x": 64, "y": 0, "color": "#fff"}], "point 0 (64, 0) is outside"),
                          ([{"x": 1, "y": 0, "color": "#fff"}, {"x": "1", "y": 0,
                                                              "color": "#fff"}], "point 1 must"),
                          ([{"x": 1, "y": 0, "color": "white"}], "bad colour 'white'"),
                          ([{"x": 0, "y": 0, "color": "#fff"}] * 1001, "too many points")):
    r = post(points_client, good, palette=PALETTE, points=points)
    assert r.status_code == 400 and message in r.json()["error"], (points, r.text)
  got = ok_images(post(points_client, good, palette=PALETTE))
  np.testing.assert_array_equal(got[0], np.asarray(points_colorizer(GOOD_SKETCH, palette=PALETTE)))


def test_colorize_equals_colorizer(client, colorizer):
  h, w = 128, 192
  sketch, ref = make_sketch(h, w, seed=3), make_reference(seed=4)
  got = ok_images(post(client, png(sketch), png(ref)))
  np.testing.assert_array_equal(got[0], np.asarray(colorizer(sketch, reference=ref)))
  got = ok_images(post(client, png(sketch), png(ref), palette=PALETTE))  # palette wins
  np.testing.assert_array_equal(got[0], np.asarray(colorizer(sketch, palette=PALETTE)))
  # Grey, RGBA and white-on-black sketches are read as Colorizer reads them.
  rgba = np.concatenate([sketch, np.full((h, w, 1), 255, np.uint8)], -1)
  rgba[:10, :10, 3] = 0
  for variant in (sketch[..., 0], rgba, 255 - sketch):
    got = ok_images(post(client, png(variant), palette=PALETTE))
    np.testing.assert_array_equal(got[0], np.asarray(colorizer(variant, palette=PALETTE)))


def test_seed_and_variations(client, colorizer):
  sketch = make_sketch(128, 192, seed=5)
  r = post(client, png(sketch), palette=PALETTE, seed="7")
  got = ok_images(r)
  assert r.json()["seeds"] == [7]
  np.testing.assert_array_equal(got[0], np.asarray(colorizer(sketch, palette=PALETTE, seed=7)))
  r = post(client, png(sketch), palette=PALETTE, seed="3", variations="4")
  got = ok_images(r)
  assert r.json()["seeds"] == [3, 4, 5, 6] and len(got) == 4
  want = colorizer.variations(sketch, palette=PALETTE, k=4, seed=3)
  for g, wi in zip(got, want):
    np.testing.assert_array_equal(g, np.asarray(wi))


def test_bucketed_size_is_padded_with_paper(client, colorizer):
  """A sketch that is not a bucket's size runs padded with white, then cropped."""
  h, w = 170, 230
  sketch = make_sketch(h, w, seed=6)
  got = ok_images(post(client, png(sketch), palette=PALETTE))
  assert got[0].shape == (h, w, 3)
  gray = infer.load_sketch(sketch)
  padded = np.pad(gray, ((0, 192 - h), (0, 256 - w)), constant_values=255)
  want = np.asarray(colorizer(padded, palette=PALETTE))[:h, :w]
  np.testing.assert_array_equal(got[0], want)


def test_exact_sizes_and_downscaled_sketches(colorizer):
  """buckets=False is Colorizer exactly, also for sketches scaled down to max_side."""
  sketch = make_sketch(100, 120, seed=7)
  with TestClient(serve.make_app(colorizer, buckets=False)) as c:
    got = ok_images(post(c, png(sketch), palette=PALETTE))
  np.testing.assert_array_equal(got[0], np.asarray(colorizer(sketch, palette=PALETTE)))
  small = infer.Colorizer(colorizer.config, colorizer.params, step=colorizer.step, max_side=128)
  big = make_sketch(150, 300, seed=8)  # works at 64x128, comes back at 150x300
  with TestClient(serve.make_app(small, buckets=False)) as c:
    got = ok_images(post(c, png(big), palette=PALETTE))
  np.testing.assert_array_equal(got[0], np.asarray(small(big, palette=PALETTE)))
  with TestClient(serve.make_app(small)) as c:
    r = post(c, png(big), palette=PALETTE)
    assert ok_images(r)[0].shape == (150, 300, 3)
    assert (r.json()["width"], r.json()["height"]) == (300, 150)


def test_a_model_with_a_work_side_keeps_the_sketchs_lines_on_the_page(colorizer):
  """The page goes through Colorizer's small working size too: lines come back sharp."""
  config = copy.deepcopy(colorizer.config)
  with config.unlocked():
    config.model.work_side = 64
  small = infer.Colorizer(config, colorizer.params, step=colorizer.step)
  sketch = make_sketch(150, 200, seed=9)
  with TestClient(serve.make_app(small)) as c:
    got = ok_images(post(c, png(sketch), palette=PALETTE))[0]
  assert got.shape == (150, 200, 3)
  ink = sketch[..., 0] == 0
  assert ink.sum() > 300
  np.testing.assert_array_equal(got[ink], 0)
  with TestClient(serve.make_app(small, buckets=False)) as c:
    got = ok_images(post(c, png(sketch), palette=PALETTE))[0]
  np.testing.assert_array_equal(got, np.asarray(small(sketch, palette=PALETTE)))


# --------------------------------------------------------------------------- bad input


GOOD_SKETCH = make_sketch(64, 64, seed=9)


def _bad_cases():
  good = png(GOOD_SKETCH)
  just_over = io.BytesIO()
  Image.new("L", (4097, 4096), 255).save(just_over, format="PNG")
  big = png(np.random.default_rng(0).integers(0, 256, (900, 900, 3), dtype=np.uint8))
  assert len(big) > MAX_BYTES
  return [
      ("not an image", dict(sketch=b"hello, this is text"), 400, "sketch: not a recognised image"),
      ("empty file", dict(sketch=b""), 400, "sketch: empty"),
      ("truncated png", dict(sketch=good[:len(good) // 2]), 400, "sketch: truncated or corrupt"),
      ("too many bytes", dict(sketch=big), 413, "the limit is 2.0 MB"),
      ("decompression bomb", dict(sketch=png_header(50000, 50000)), 413,
       "sketch image is too large"),
      ("just over the pixel limit", dict(sketch=just_over.getvalue()), 413,
       "(4097x4096 pixels): the limit is 16,777,216 pixels = 4096x4096"),
      ("missing sketch", dict(reference=png(make_reference())), 400, "no sketch"),
      ("bad reference", dict(sketch=good, reference=b"GIF89a broken"), 400, "reference:"),
      ("bad palette hex", dict(sketch=good, palette=["#12345g"]), 400, "bad palette colour"),
      ("palette not json", dict(sketch=good, palette="#fff,#000"), 400, "JSON list"),
      ("too many colours", dict(sketch=good, palette=["#000"] * 10), 400, "at most 9"),
      ("bad points json", dict(sketch=good, palette=PALETTE, points="[{x: 1}"), 400,
       "points must be JSON"),
      ("point outside", dict(sketch=good, palette=PALETTE,
                             points=[{"x": 64, "y": 0, "color": "#fff"}]), 400, "outside"),
      ("seed not an int", dict(sketch=good, palette=PALETTE, seed="abc"), 400,
       "seed must be a whole number"),
      ("negative seed", dict(sketch=good, palette=PALETTE, seed="-3"), 400, "seed"),
      ("too many variations", dict(sketch=good, palette=PALETTE, variations="5"), 400,
       "variations must be a whole number from 1 to 4"),
  ]


@pytest.mark.parametrize("name,kwargs,status,message", _bad_cases(),
                         ids=[c[0] for c in _bad_cases()])
def test_bad_input_is_a_clear_error(client, colorizer, name, kwargs, status, message):
  if name in ("bad points json", "point outside") and not serve.accepts_points(colorizer):
    message = "this model takes no colour points"
  r = post(client, **kwargs)
  assert r.status_code == status, (name, r.text)
  assert r.headers["content-type"] == "application/json"
  assert message in r.json()["error"], (name, r.json())
  # ... and the server keeps serving.
  got = ok_images(post(client, png(GOOD_SKETCH), palette=PALETTE))
  np.testing.assert_array_equal(got[0], np.asarray(colorizer(GOOD_SKETCH, palette=PALETTE)))


def test_bad_requests_of_other_kinds(client):
  r = client.post("/api/colorize", data={"palette": json.dumps(PALETTE)})  # urlencoded
  assert r.status_code == 400 and "multipart/form-data" in r.json()["error"]
  r = client.post("/api/colorize", content=b"--x\r\ngarbage",
                  headers={"content-type": "multipart/form-data; boundary=x"})
  assert r.status_code == 400, r.text
  r = client.post("/api/colorize", files={"sketch": ("a", b"x"), "reference": ("b", b"x"),
                                          "extra": ("c", b"x")})
  assert r.status_code == 400 and "Too many files" in r.json()["error"]
  r = client.post("/api/colorize", files={"sketch": ("a", png(GOOD_SKETCH)),
                                          "palette": ("p.json", b'["#fff"]')})
  assert r.status_code == 400 and "palette must be a form field" in r.json()["error"]
  r = client.post("/api/colorize", files={"sketch": ("a", png(GOOD_SKETCH)),
                                          "reference": ("", b"")},
                  data={"palette": json.dumps(PALETTE)})  # an empty file input of a form
  assert r.status_code == 200, r.text
  # A declared length over the limit is refused before the body is read.
  r = client.post("/api/colorize", content=b"x" * 10, headers={
      "content-type": "multipart/form-data; boundary=x", "content-length": str(10**9)})
  assert r.status_code == 413


def test_user_errors_from_the_colorizer_are_400(client):
  r = post(client, png(GOOD_SKETCH))  # neither reference nor palette
  if r.status_code == 200:
    pytest.skip("this Colorizer colours a sketch without any hint")
  assert r.status_code == 400 and "reference" in r.json()["error"]


def test_host_and_origin_checks(colorizer):
  app = serve.make_app(colorizer, allowed_hosts=["127.0.0.1", "localhost"])
  with TestClient(app, base_url="http://127.0.0.1:7860") as c:
    assert c.get("/api/health").status_code == 200
    r = post(c, png(GOOD_SKETCH), palette=PALETTE)
    assert r.status_code == 200
    r = c.post("/api/palette", files={"reference": ("r.png", png(make_reference()))},
               headers={"origin": "http://evil.example"})
    assert r.status_code == 403 and "cross-origin" in r.json()["error"]
    r = c.post("/api/palette", files={"reference": ("r.png", png(make_reference()))},
               headers={"origin": "http://127.0.0.1:7860"})
    assert r.status_code == 200
  with TestClient(app, base_url="http://evil.example") as c:  # DNS rebinding
    assert c.get("/api/health").status_code == 400


def test_nothing_is_written_to_disk(client, monkeypatch):
  """Uploads over Starlette's 1 MB spool limit stay in memory; results are not saved."""
  def refuse(*args, **kwargs):
    raise AssertionError("wrote a file")
  for name in ("TemporaryFile", "NamedTemporaryFile", "SpooledTemporaryFile.rollover",
               "mkstemp", "mkdtemp"):
    if "." in name:
      cls, attr = name.split(".")
      monkeypatch.setattr(getattr(tempfile, cls), attr, refuse)
    else:
      monkeypatch.setattr(tempfile, name, refuse)
  monkeypatch.setattr(images, "save_image", refuse)
  noise = png(np.random.default_rng(1).integers(0, 256, (700, 700, 3), dtype=np.uint8))
  assert 2**20 < len(noise) < MAX_BYTES
  r = post(client, reference=noise, url="/api/palette")
  assert r.status_code == 200, r.text
  r = post(client, png(GOOD_SKETCH), noise, palette=PALETTE)
  assert r.status_code == 200, r.text


# --------------------------------------------------------------------------- queueing, compiling


def test_concurrent_requests_queue_for_one_model_thread(client, colorizer, monkeypatch):
  active, peak, threads = [0], [0], set()
  lock = threading.Lock()
  original = infer.Colorizer.__call__

  @functools.wraps(original)
  def watched(self, *args, **kwargs):
    with lock:
      active[0] += 1
      peak[0] = max(peak[0], active[0])
      threads.add(threading.current_thread().name)
    try:
      time.sleep(0.02)  # widen the window in which an overlap would show
      return original(self, *args, **kwargs)
    finally:
      with lock:
        active[0] -= 1

  monkeypatch.setattr(infer.Colorizer, "__call__", watched)
  sketch = make_sketch(128, 192, seed=10)
  responses = [None] * 8

  def one(i):
    responses[i] = post(client, png(sketch), palette=PALETTE, seed=str(i))

  workers = [threading.Thread(target=one, args=(i,)) for i in range(8)]
  for t in workers:
    t.start()
  for t in workers:
    t.join(timeout=300)
  assert all(r is not None and r.status_code == 200 for r in responses), [
      r and r.text[:200] for r in responses]
  assert peak[0] == 1, "two requests ran the model at once"
  assert len(threads) == 1 and next(iter(threads)).startswith("jaxcolor-model")
  for i in (0, 7):
    np.testing.assert_array_equal(decode(responses[i].json()["images"][0]),
                                  np.asarray(original(colorizer, sketch, palette=PALETTE, seed=i)))


def test_size_bucket_compiles_once(client, colorizer):
  compiled = lambda: len(colorizer._compiled)  # pylint: disable=protected-access
  # (150, 200), (170, 230) and (129, 250) all run padded to (192, 256).
  assert ok_images(post(client, png(make_sketch(150, 200)), palette=PALETTE))[0].shape == (
      150, 200, 3)
  after_first = compiled()
  for h, w in ((170, 230), (129, 250)):
    ok_images(post(client, png(make_sketch(h, w)), palette=PALETTE))
    assert compiled() == after_first, (h, w)
  ok_images(post(client, png(make_sketch(150, 200)), palette=PALETTE, seed="1"))
  seeded = compiled()  # the noise-drawing program compiles once per bucket too
  ok_images(post(client, png(make_sketch(170, 230)), palette=PALETTE, seed="2", variations="2"))
  assert compiled() == seeded
  assert client.get("/api/health").json()["compiled_programs"] == compiled()


def test_size_bucket_compiles_once_with_points(points_client, points_colorizer):
  compiled = lambda: len(points_colorizer._compiled)  # pylint: disable=protected-access
  pts = [{"x": 5, "y": 5, "color": "#ff0000"}]
  ok_images(post(points_client, png(make_sketch(150, 200)), palette=PALETTE, points=pts))
  first = compiled()
  ok_images(post(points_client, png(make_sketch(129, 250)), palette=PALETTE, points=pts))
  ok_images(post(points_client, png(make_sketch(170, 230)), palette=PALETTE))
  assert compiled() == first


def test_warm_up_compiles_the_bucket(colorizer):
  before = len(colorizer._compiled)  # pylint: disable=protected-access
  serve.warm_up(colorizer, [(300, 400)])  # bucket (320, 448)
  warmed = len(colorizer._compiled)  # pylint: disable=protected-access
  assert warmed == before + 1
  with TestClient(serve.make_app(colorizer)) as c:
    ok_images(post(c, png(make_sketch(310, 420)), palette=PALETTE))
  assert len(colorizer._compiled) == warmed  # pylint: disable=protected-access


# --------------------------------------------------------------------------- CLI


def parse(argv=()):
  return cli.parse_args(["serve", *argv])[0]


def test_arguments():
  args = parse()
  assert (args.host, args.port, args.checkpoint) == ("127.0.0.1", 7860, None)
  assert args.max_upload_mb == 10 and args.max_pixels == 4096 * 4096
  args = parse(["--host", "0.0.0.0", "--port", "8000", "--checkpoint", "runs/x", "--best"])
  assert (args.host, args.port, args.checkpoint, args.best) == ("0.0.0.0", 8000, "runs/x", True)
  assert args.dots == "fill" and parse(["--dots", "model"]).dots == "model"


def test_missing_extra_is_one_line(monkeypatch):
  monkeypatch.setitem(sys.modules, "starlette", None)
  with pytest.raises(UserError) as e:
    serve.run(parse())
  assert str(e.value) == "jaxcolor serve needs the serve extra: pip install 'jaxcolor[serve]'"


def test_package_imports_without_the_extra():
  code = ("import sys\n"
          "for m in ('starlette', 'uvicorn', 'python_multipart', 'multipart'):\n"
          "  sys.modules[m] = None\n"
          "import argparse, jaxcolor, jaxcolor.cli, jaxcolor.infer\n"
          "from jaxcolor import serve\n"
          "from jaxcolor.errors import UserError\n"
          "try:\n"
          "  serve.run(jaxcolor.cli.parse_args(['serve'])[0])\n"
          "except UserError as e:\n"
          "  print(f'error: {e}')\n")
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       cwd=ROOT, timeout=300, check=True)
  assert out.stdout == f"error: {serve.MISSING_EXTRA}\n"
  assert serve.MISSING_EXTRA == ("jaxcolor serve needs the serve extra: "
                                 "pip install 'jaxcolor[serve]'")


def test_busy_port_fails_before_loading_the_model():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    s.listen()
    port = s.getsockname()[1]
    with pytest.raises(UserError, match=f"cannot listen on 127.0.0.1:{port}: .*--port"):
      serve.run(parse(["--port", str(port), "--checkpoint", "/no/such/checkpoint"]))


def test_run_serves_the_app(colorizer, monkeypatch, capsys):
  served, warmed = {}, []
  monkeypatch.setattr(serve, "warm_up", lambda c: warmed.append(c))
  monkeypatch.setattr(serve, "serve_forever", lambda app, sock, verbose=False: served.update(
      app=app, port=sock.getsockname()[1]))
  assert serve.run(parse(["--port", "0", "--max-upload-mb", "1"]), colorizer=colorizer) == 0
  assert warmed == [colorizer]
  port = served["port"]
  assert f"http://127.0.0.1:{port}/" in capsys.readouterr().out
  with TestClient(served["app"], base_url=f"http://localhost:{port}") as c:
    info = c.get("/api/health").json()
    assert info["max_bytes"] == 2**20 and info["buckets"] is True
  with TestClient(served["app"], base_url="http://attacker.example") as c:
    assert c.get("/api/health").status_code == 400  # loopback serving checks the Host
  with pytest.raises(UserError, match="no such|not|exist"):
    serve.run(parse(["--port", "0", "--checkpoint", "/no/such/checkpoint"]))


# --------------------------------------------------------------------------- flats, bucket, layers


def paint_sketch():
  """test_paint's drawing (a square, a circle, a small square) as RGB, and points inside."""
  from test_paint import drawing  # pylint: disable=g-import-not-at-top
  gray, at = drawing()
  return np.repeat(gray[..., None], 3, axis=-1), at


def test_colorize_returns_regions_line_art_and_flats(points_client, points_colorizer):
  from jaxcolor.paint import flats as flats_lib  # pylint: disable=g-import-not-at-top
  from jaxcolor.paint import regions as regions_lib  # pylint: disable=g-import-not-at-top
  sketch, at = paint_sketch()
  x, y = at["circle"]
  points = [{"x": x, "y": y, "color": "#10c060"}]
  plain = post(points_client, png(sketch), palette=PALETTE, points=points)
  flat = post(points_client, png(sketch), palette=PALETTE, points=points, flat="1")
  assert plain.status_code == flat.status_code == 200, flat.text
  p, f = plain.json(), flat.json()
  assert p["flat"] is False and f["flat"] is True and p["warning"] is None
  gray = infer.load_sketch(sketch)
  regions = regions_lib.segment(gray)
  assert f["region_count"] == regions.count == 4
  np.testing.assert_array_equal(regions_lib.decode_labels(decode(f["regions"])), regions.labels)
  np.testing.assert_array_equal(decode(f["line_art"]), gray)
  # The plain result comes along with the flat one (for the PSD), and equals plain's image.
  np.testing.assert_array_equal(decode(f["plain"][0]), decode(p["images"][0]))
  (colors,) = f["flats"]
  assert colors == p["flats"][0]
  circle = int(regions.labels[y, x])
  assert colors[circle] == "#10c060"  # the point's colour, exactly
  as_flats = flats_lib.Flats.from_colors(
      [None if c is None else hints.parse_palette(c, 1)[0] for c in colors])
  np.testing.assert_array_equal(decode(f["images"][0]),
                                flats_lib.flat_image(gray, regions, as_flats))


def test_layers_route_makes_a_psd_with_the_edited_colours(points_client):
  psd_tools = pytest.importorskip("psd_tools")
  from jaxcolor.paint import flats as flats_lib  # pylint: disable=g-import-not-at-top
  from jaxcolor.paint import regions as regions_lib  # pylint: disable=g-import-not-at-top
  sketch, at = paint_sketch()
  data = post(points_client, png(sketch), palette=PALETTE).json()
  colors = data["flats"][0]
  gray = infer.load_sketch(sketch)
  regions = regions_lib.segment(gray)
  colors[int(regions.labels[at["square"][1], at["square"][0]])] = "#ff8000"  # a bucket fill
  files = {"sketch": ("s.png", png(sketch), "image/png"),
           "result": ("r.png", base64.b64decode(data["images"][0].split(",", 1)[1]),
                      "image/png")}
  r = points_client.post("/api/layers", files=files, data={"colors": json.dumps(colors)})
  assert r.status_code == 200, r.text
  assert r.headers["content-type"] == "image/vnd.adobe.photoshop"
  assert "attachment" in r.headers["content-disposition"]
  psd = psd_tools.PSDImage.open(io.BytesIO(r.content))
  assert [layer.name for layer in psd] == ["paper", "flats", "shading", "line art"]
  want = flats_lib.flat_image(gray, regions, flats_lib.Flats.from_colors(
      [None if c is None else hints.parse_palette(c, 1)[0] for c in colors]))
  flats_layer = psd[1].numpy()
  assert flats_layer.shape[-1] == 4
  composite = np.asarray(psd.topil().convert("RGB"))  # the composite stored in the file
  assert np.abs(composite.astype(int) - want).max() <= 1
  assert tuple(want[at["square"][1], at["square"][0]]) == (255, 128, 0)
  # Mistakes are one clear 400 each.
  for colours, what in ((colors[:-1], "regions"), (["#12"] * len(colors), "bad colour"),
                        ("nope", "JSON list")):
    bad = points_client.post("/api/layers", files=files,
                             data={"colors": colours if isinstance(colours, str)
                                   else json.dumps(colours)})
    assert bad.status_code == 400 and what in bad.json()["error"], bad.text
  small = dict(files, result=("r.png", png(sketch[:50, :60]), "image/png"))
  bad = points_client.post("/api/layers", files=small, data={"colors": json.dumps(colors)})
  assert bad.status_code == 400 and "60x50" in bad.json()["error"]


def test_a_sketch_without_regions_gets_the_plain_result_and_a_warning(points_client):
  scribble = np.full((96, 96, 3), 255, np.uint8)
  for i in range(80):
    scribble[8 + i, 8 + (i * 7) % 30:10 + (i * 7) % 30] = 0
  r = post(points_client, png(scribble), palette=PALETTE, flat="1")
  assert r.status_code == 200, r.text
  data = r.json()
  assert data["flat"] is False and data["regions"] is None and data["flats"] is None
  assert "enclose no region" in data["warning"]
  assert post(points_client, png(scribble), palette=PALETTE, flat="maybe").status_code == 400
