"""`jaxcolor serve`: a local web page that colours sketches with one loaded model.

  jaxcolor serve [--checkpoint PATH] [--host 127.0.0.1] [--port 7860]

Starlette + uvicorn + python-multipart, installed by `pip install 'jaxcolor[serve]'`;
they are imported inside functions only, so the package and the rest of the CLI work
without them. The model is loaded and warmed once at start; requests queue for one model
thread. Uploads are read into memory and results come back as base64 PNG: nothing is
written to disk and client file names are never used.

Routes:
  GET  /                the page (jaxcolor/web/index.html, app.js, style.css under /static)
  GET  /api/health      model family, hint kind, step, source, limits
  POST /api/palette     multipart `reference` -> {"colors": ["#rrggbb", ...]}
  POST /api/colorize    multipart `sketch`, optional `reference`, `palette` (JSON list of
                        hex), `points` (JSON list of {"x", "y", "color"} in sketch pixels),
                        `seed` (int), `variations` (1..4), `flat` (1: flat colours)
                        -> {"images": ["data:image/png;base64,..."], "width", "height",
                            "regions", "line_art", "flats", "plain", "warning", ...}
  POST /api/layers      multipart `sketch`, `result` (a plain result PNG), `colors` (JSON
                        list, one "#rrggbb" or null = paper per region) -> a PSD file
Errors are {"error": message} with status 400 (bad input) or 413 (too large).
"""

import asyncio
import base64
import concurrent.futures
import errno
import functools
import importlib.resources
import importlib.util
import io
import json
import logging
import math
import re
import socket
import sys
import threading
import time
import urllib.parse
import warnings

import numpy as np
from PIL import Image

from jaxcolor import defaults
from jaxcolor import hints
from jaxcolor import infer
from jaxcolor.data import images
from jaxcolor.errors import ImageError, UserError
from jaxcolor.paint import flats as flats_lib
from jaxcolor.paint import layers as layers_lib
from jaxcolor.paint import regions as regions_lib

DEFAULT_MAX_BYTES = defaults.SERVE_MAX_BYTES
DEFAULT_MAX_PIXELS = defaults.SERVE_MAX_PIXELS
MAX_VARIATIONS = 4
MAX_POINTS = 1000
MAX_SEED = 2**31 - 1
MISSING_EXTRA = "jaxcolor serve needs the serve extra: pip install 'jaxcolor[serve]'"
# Warm-up shape: the size a typical upload lands in, so the first click does not compile.
WARMUP_SHAPES = ((512, 512),)
# Padded sides: multiples of 64 up to 512, of 128 above, so at most ~12 sides per axis
# compile (each once) and padding stays under 64 px / 25%.
_FINE_STEP, _FINE_LIMIT, _COARSE_STEP = 64, 512, 128
_HEX = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")

log = logging.getLogger(__name__)


class HTTPError(Exception):
  """A request the server refuses: answered as {"error": message} with `status`."""

  def __init__(self, status, message):
    super().__init__(message)
    self.status = status
    self.message = message


# --------------------------------------------------------------------------- sizes


def bucket_side(n, max_side=infer.DEFAULT_MAX_SIDE):
  """Padded length for a side of n pixels (n <= max_side): the next bucket, <= max_side."""
  step = _FINE_STEP if n <= _FINE_LIMIT else _COARSE_STEP
  return min(-(-int(n) // step) * step, int(max_side))


def accepts_points(colorizer):
  """Whether this Colorizer's model takes colour points."""
  return bool(colorizer.takes_points)


# --------------------------------------------------------------------------- points


# --------------------------------------------------------------------------- form fields


def parse_palette(text):
  """JSON list of hex strings -> list, or None when empty; HTTPError(400) otherwise."""
  if text is None or not text.strip():
    return None
  try:
    value = json.loads(text)
  except ValueError:
    raise HTTPError(400, "palette must be a JSON list of hex colours such as "
                    '["#f4d3b5", "#2e4057"]') from None
  if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
    raise HTTPError(400, 'palette must be a JSON list of hex strings, e.g. ["#f4d3b5"]')
  if not value:
    return None
  for c in value:
    if not _HEX.fullmatch(c):
      raise HTTPError(400, f"bad palette colour {c[:20]!r}: expected '#rrggbb'")
  return value


def parse_points(text, width, height):
  """JSON list of {"x": int, "y": int, "color": "#rrggbb"} -> [(x, y, rgb)], checked."""
  if text is None or not text.strip():
    return []
  try:
    value = json.loads(text)
  except ValueError:
    raise HTTPError(400, 'points must be JSON: [{"x": 10, "y": 20, "color": "#ff0000"}, '
                    "...]") from None
  if not isinstance(value, list):
    raise HTTPError(400, "points must be a JSON list of {x, y, color} objects")
  if len(value) > MAX_POINTS:
    raise HTTPError(400, f"too many points ({len(value)}), at most {MAX_POINTS}")
  out = []
  for i, p in enumerate(value):
    ok = (isinstance(p, dict) and isinstance(p.get("color"), str)
          and all(isinstance(p.get(k), int) and not isinstance(p.get(k), bool)
                  for k in ("x", "y")))
    if not ok:
      raise HTTPError(400, f"point {i} must be {{\"x\": int, \"y\": int, \"color\": "
                      f"\"#rrggbb\"}}, got {json.dumps(p)[:80]}")
    if not _HEX.fullmatch(p["color"]):
      raise HTTPError(400, f"point {i}: bad colour {p['color'][:20]!r}: expected '#rrggbb'")
    if not (0 <= p["x"] < width and 0 <= p["y"] < height):
      raise HTTPError(400, f"point {i} ({p['x']}, {p['y']}) is outside the "
                      f"{width}x{height} sketch")
    out.append((p["x"], p["y"], tuple(int(v) for v in hints.parse_palette(p["color"], 1)[0])))
  return out


def parse_int(text, name, lo, hi, default=None):
  """An optional integer form field in [lo, hi]; HTTPError(400) names the field."""
  if text is None or not str(text).strip():
    return default
  try:
    value = int(str(text).strip())
  except ValueError:
    value = None
  if value is None or not lo <= value <= hi:
    raise HTTPError(400, f"{name} must be a whole number from {lo} to {hi}, "
                    f"got {str(text)[:20]!r}")
  return value


def decode_image(data, what, max_bytes, max_pixels):
  """Uploaded bytes -> uint8 RGB (H, W, 3); 413 over the limits, 400 when unreadable."""
  if len(data) > max_bytes:
    raise HTTPError(413, f"{what} is {_mb(len(data))}: the limit is {_mb(max_bytes)}")
  try:
    # The header alone gives the size: refuse bombs before decoding a single pixel.
    with warnings.catch_warnings():
      warnings.simplefilter("ignore", Image.DecompressionBombWarning)
      with Image.open(io.BytesIO(data)) as img:
        size = img.size
  except Image.DecompressionBombError:
    size = None
  except Exception:  # pylint: disable=broad-except
    size = (0, 0)  # Not readable: load_rgb below says why.
  if size is None or size[0] * size[1] > max_pixels:
    dims = f" ({size[0]}x{size[1]} pixels)" if size else ""
    side = math.isqrt(max_pixels)
    square = f" = {side}x{side}" if side * side == max_pixels else ""
    raise HTTPError(413, f"{what} image is too large{dims}: the limit is {max_pixels:,} "
                    f"pixels{square}")
  try:
    return images.load_rgb(data, max_pixels=max_pixels)
  except ImageError as e:
    raise HTTPError(400, f"{what}: {e.reason}") from None


def _mb(n):
  return f"{n / 2**20:.1f} MB"


def _data_url(img):
  png = images.encode_png(img, compress_level=1)  # lossless; level 1 is 5x faster than 6
  return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


# --------------------------------------------------------------------------- flats, layers


def parse_flag(text, name):
  """An optional on/off form field: "1", "true", "on" / "0", "false", "off" or empty."""
  value = (text or "").strip().lower()
  if value in ("", "0", "false", "off"):
    return False
  if value in ("1", "true", "on"):
    return True
  raise HTTPError(400, f"{name} must be 1 or 0, got {str(text)[:20]!r}")


def paint_fields(sketch_rgb, points, results, flat):
  """What the page needs for flats, the bucket and the PSD, next to the results.

  Args:
    sketch_rgb: the uploaded sketch, uint8 RGB (H, W, 3).
    points: the parsed colour points [(x, y, rgb)] in its pixels: each fills its region.
    results: plain results, PIL images of the sketch's size.
    flat: return the flat results as "images" (and the plain ones as "plain").

  Returns:
    (images to show, dict of extra JSON fields): "regions" (a PNG of region ids,
    id = R + 256 G + 65536 B), "region_count", "line_art" (the sketch as the model read
    it, grey), "flats" (per image one "#rrggbb" or null = paper per region), "plain" and
    "warning" (why there are no flats) or nulls.
  """
  gray = infer.load_sketch(sketch_rgb)
  regions = regions_lib.segment(gray)
  fields = {"flat": False, "regions": None, "region_count": 0, "line_art": None,
            "flats": None, "plain": None, "warning": None}
  if not regions.usable:
    fields["warning"] = f"no flat colours or bucket for this sketch: {regions.problem}"
    return results, fields
  dots = flats_lib.dots_from_points(regions, points)
  flats = [flats_lib.flat_colors(regions, np.asarray(img), dots) for img in results]
  fields.update(
      regions=_data_url(Image.fromarray(regions_lib.encode_labels(regions.labels), "RGB")),
      region_count=regions.count, line_art=_data_url(Image.fromarray(gray, "L")),
      flats=[[None if p else "#%02x%02x%02x" % tuple(c) for c, p in zip(f.colors, f.paper)]
             for f in flats])
  if not flat:
    return results, fields
  fields.update(flat=True, plain=[_data_url(img) for img in results])
  return [Image.fromarray(flats_lib.flat_image(gray, regions, f), "RGB") for f in flats], fields


def parse_colors(text, count):
  """JSON list of "#rrggbb" or null, one per region -> [(r, g, b) or None]."""
  try:
    value = json.loads(text or "")
  except ValueError:
    value = None
  if not isinstance(value, list) or not all(c is None or isinstance(c, str) for c in value):
    raise HTTPError(400, 'colors must be a JSON list with one "#rrggbb" or null per region')
  if len(value) != count:
    raise HTTPError(400, f"colors has {len(value)} entries, the sketch has {count} regions")
  out = []
  for i, c in enumerate(value):
    if c is not None and not _HEX.fullmatch(c):
      raise HTTPError(400, f"region {i}: bad colour {c[:20]!r}: expected '#rrggbb'")
    out.append(None if c is None else tuple(int(v) for v in hints.parse_palette(c, 1)[0]))
  return out


def layers_psd(sketch_rgb, result_rgb, colors_text):
  """PSD bytes of a result whose region colours the page may have edited."""
  gray = infer.load_sketch(sketch_rgb)
  if result_rgb.shape[:2] != gray.shape:
    raise HTTPError(400, f"result is {result_rgb.shape[1]}x{result_rgb.shape[0]}, the sketch "
                    f"{gray.shape[1]}x{gray.shape[0]}: send the result of this sketch")
  regions = regions_lib.segment(gray)
  if not regions.usable:
    raise HTTPError(400, f"no layers for this sketch: {regions.problem}")
  flats = flats_lib.Flats.from_colors(parse_colors(colors_text, regions.count))
  return layers_lib.make_layers(gray, regions, flats, result_rgb).psd_bytes()


# --------------------------------------------------------------------------- colorize


def prepare(colorizer, sketch_rgb, points, buckets=True):
  """Sketch (and points) as the model thread gets them: (work, points_rgba, geometry).

  The sketch is normalised like `infer.load_sketch`, scaled to the Colorizer's working
  size, and padded with white paper to its size bucket, so that every size of a bucket
  runs the same compiled program; `finish` crops and scales the results back.
  """
  gray = infer.load_sketch(sketch_rgb)
  h, w = gray.shape
  wh, ww = infer.working_size(h, w, None, colorizer.max_side)
  work = gray
  if (wh, ww) != (h, w):  # as Colorizer.colorize_sketch does, so sizes match it exactly
    work = np.asarray(Image.fromarray(gray, "L").resize((ww, wh), Image.Resampling.LANCZOS))
  rgba = hints.points_image(points, wh, ww, scale=(ww / w, wh / h)) if points else None
  if buckets:
    bh, bw = bucket_side(wh, colorizer.max_side), bucket_side(ww, colorizer.max_side)
    work = np.pad(work, ((0, bh - wh), (0, bw - ww)), constant_values=255)
    if rgba is not None:
      rgba = np.pad(rgba, ((0, bh - wh), (0, bw - ww), (0, 0)))
  return work, rgba, (h, w, wh, ww)


def finish(results, geometry):
  """Model outputs -> PIL images of the uploaded sketch's size."""
  h, w, wh, ww = geometry
  out = []
  for img in results:
    if img.size != (ww, wh):
      img = img.crop((0, 0, ww, wh))
    if (wh, ww) != (h, w):
      img = img.resize((w, h), Image.Resampling.LANCZOS)
    out.append(img)
  return out


def run_model(colorizer, work, rgba, *, reference=None, palette=None, seed=None,
              variations=1):
  """The Colorizer call (model thread only): list of PIL images of `work`'s size."""
  kwargs = {}
  # The swatches were taken from the reference and then edited: the edit is what counts.
  if palette:
    kwargs["palette"] = palette
  elif reference is not None:
    kwargs["reference"] = reference
  if rgba is not None:
    kwargs["points"] = rgba
  if variations > 1:
    return colorizer.variations(work, k=variations, seed=seed or 0, **kwargs)
  return [colorizer(work, seed=seed, **kwargs)]


def warm_up(colorizer, shapes=WARMUP_SHAPES):
  """Compiles the forward pass for these (height, width) sketch sizes' buckets."""
  for h, w in shapes:
    blank = np.full((bucket_side(h, colorizer.max_side), bucket_side(w, colorizer.max_side)),
                    255, np.uint8)
    if colorizer.kind == "palette":
      colorizer(blank, palette="#808080")
    else:
      colorizer(blank, reference=np.full((8, 8, 3), 128, np.uint8))


# --------------------------------------------------------------------------- app


def _web_dir():
  return importlib.resources.files("jaxcolor") / "web"


def make_app(colorizer, *, max_bytes=DEFAULT_MAX_BYTES, max_pixels=DEFAULT_MAX_PIXELS,
             buckets=True, allowed_hosts=None):
  """The Starlette app around one Colorizer.

  Args:
    max_bytes: largest upload per image file.
    max_pixels: largest image (width * height) per upload, checked before decoding.
    buckets: pad sketches to size buckets (few compilations); False runs each sketch at
      its own size, exactly as `Colorizer` does (one compilation per padded shape).
    allowed_hosts: Host header values to accept (None: any), against DNS rebinding.
  """
  from starlette.applications import Starlette  # pylint: disable=g-import-not-at-top
  from starlette.concurrency import run_in_threadpool  # pylint: disable=g-import-not-at-top
  from starlette import formparsers  # pylint: disable=g-import-not-at-top
  from starlette.middleware import Middleware  # pylint: disable=g-import-not-at-top
  from starlette.middleware import trustedhost  # pylint: disable=g-import-not-at-top
  from starlette.requests import ClientDisconnect  # pylint: disable=g-import-not-at-top
  from starlette.responses import (  # pylint: disable=g-import-not-at-top
      HTMLResponse, JSONResponse, Response)
  from starlette.routing import Mount, Route  # pylint: disable=g-import-not-at-top
  from starlette.staticfiles import StaticFiles  # pylint: disable=g-import-not-at-top

  class InMemoryParser(formparsers.MultiPartParser):
    # Starlette spools file parts over 1 MB to a temporary file; the body is already
    # capped in memory, so keep the parts there too.
    spool_max_size = sys.maxsize

  web = _web_dir()
  index_html = (web / "index.html").read_text(encoding="utf-8")
  # One thread owns the model: JAX work never overlaps, and requests queue in its FIFO.
  model_thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="jaxcolor-model")
  decode_slots = threading.BoundedSemaphore(2)
  supports_points = accepts_points(colorizer)
  body_limit = 2 * max_bytes + 2**20  # two images and the small fields

  def error(status, message):
    return JSONResponse({"error": message}, status_code=status,
                        headers={"Cache-Control": "no-store"})

  def api(handler):
    @functools.wraps(handler)
    async def wrapped(request):
      try:
        origin = request.headers.get("origin")
        if (request.method == "POST" and origin is not None
            and urllib.parse.urlsplit(origin).netloc != request.headers.get("host")):
          # A page of another site must not drive this server from the user's browser.
          raise HTTPError(403, f"cross-origin request from {origin[:60]} refused")
        return await handler(request)
      except HTTPError as e:
        return error(e.status, e.message)
      except ClientDisconnect:
        return error(400, "the upload was interrupted")
      except infer.ParamsMismatch as e:
        log.error("%s", e)
        return error(500, str(e))
      except UserError as e:
        return error(400, e.reason if isinstance(e, ImageError) else str(e))
      except Exception as e:  # pylint: disable=broad-except
        # A bug in one request must not take the page down for the next.
        log.exception("request failed")
        return error(500, "internal error: the server's log has the details")
    return wrapped

  async def read_form(request):
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
      raise HTTPError(400, "send multipart/form-data (the page does this for you)")
    length = request.headers.get("content-length", "")
    too_big = HTTPError(413, f"request is larger than {_mb(body_limit)}: each image may be "
                        f"at most {_mb(max_bytes)}")
    if length.isdigit() and int(length) > body_limit:
      raise too_big
    chunks, size = [], 0
    async for chunk in request.stream():
      size += len(chunk)
      if size > body_limit:
        raise too_big
      chunks.append(chunk)

    async def body():
      yield b"".join(chunks)

    try:
      return await InMemoryParser(request.headers, body(), max_files=2, max_fields=8).parse()
    except formparsers.MultiPartException as e:
      raise HTTPError(400, f"bad multipart form: {e.message}") from None

  async def read_file(form, name, required):
    upload = form.get(name)
    if upload is None or (isinstance(upload, str) and not upload):
      if required:
        raise HTTPError(400, f"no {name}: upload a {name} image (form field '{name}')")
      return None
    if isinstance(upload, str):
      raise HTTPError(400, f"{name} must be a file upload")
    data = await upload.read()
    if not data and not upload.filename and not required:
      return None  # an HTML form's file input left empty
    return data

  def read_field(form, name):
    value = form.get(name)
    if value is not None and not isinstance(value, str):
      raise HTTPError(400, f"{name} must be a form field, not a file")
    return value

  async def index(request):
    del request
    return HTMLResponse(index_html, headers={
        # Everything the page needs is served from here: no CDN, no inline script.
        "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; "
                                   "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer"})

  async def health(request):
    del request
    config = colorizer.config
    return JSONResponse({
        "status": "ok", "family": config.model.family, "hint": colorizer.kind,
        "step": colorizer.step, "source": colorizer.source,
        "has_noise": bool(colorizer.has_noise), "points": supports_points,
        "max_bytes": max_bytes, "max_pixels": max_pixels, "max_side": colorizer.max_side,
        "max_variations": MAX_VARIATIONS, "buckets": bool(buckets),
        "layers": importlib.util.find_spec("psd_tools") is not None,
        "compiled_programs": len(getattr(colorizer, "_compiled", {}))},
        headers={"Cache-Control": "no-store"})

  async def palette(request):
    form = await read_form(request)
    data = await read_file(form, "reference", required=True)

    def work():
      ref = decode_image(data, "reference", max_bytes, max_pixels)
      colors = colorizer.hint_colors(reference=ref)
      # Distinct colours, in the model's order: repeats only pad the palette to 9.
      distinct = list(dict.fromkeys(hints.to_hex(colors)))
      return {"colors": distinct, "kind": colorizer.kind,
              "editable": colorizer.kind == "palette"}

    return JSONResponse(await run_in_threadpool(work), headers={"Cache-Control": "no-store"})

  async def colorize(request):
    form = await read_form(request)
    sketch_data = await read_file(form, "sketch", required=True)
    ref_data = await read_file(form, "reference", required=False)
    pal = parse_palette(read_field(form, "palette"))
    seed = parse_int(read_field(form, "seed"), "seed", 0, MAX_SEED)
    k = parse_int(read_field(form, "variations"), "variations", 1, MAX_VARIATIONS, default=1)
    flat = parse_flag(read_field(form, "flat"), "flat")
    points_text = read_field(form, "points")
    if points_text and points_text.strip() not in ("", "[]") and not supports_points:
      raise HTTPError(400, "this model takes no colour points: leave the points out")

    def decode():
      with decode_slots:  # a few decodes at a time: each may hold ~250 MB
        return decode_unlimited()

    def decode_unlimited():
      sketch = decode_image(sketch_data, "sketch", max_bytes, max_pixels)
      h, w = sketch.shape[:2]
      points = parse_points(points_text, w, h)
      ref = (decode_image(ref_data, "reference", max_bytes, max_pixels)
             if ref_data is not None and not pal else None)
      return prepare(colorizer, sketch, points, buckets), ref, (sketch, points)

    (work, rgba, geometry), ref, (sketch, points) = await run_in_threadpool(decode)
    queued = time.perf_counter()

    def model():
      start = time.perf_counter()
      out = run_model(colorizer, work, rgba, reference=ref, palette=pal, seed=seed,
                      variations=k)
      return out, start - queued, time.perf_counter() - start

    results, waited, elapsed = await asyncio.get_running_loop().run_in_executor(model_thread,
                                                                                model)

    def encode():
      shown, fields = paint_fields(sketch, points, finish(results, geometry), flat)
      return [_data_url(img) for img in shown], fields

    urls, fields = await run_in_threadpool(encode)
    seeds = None if seed is None and k == 1 else list(range(seed or 0, (seed or 0) + k))
    return JSONResponse({"images": urls, "width": geometry[1], "height": geometry[0],
                         "seeds": seeds, "seconds": round(elapsed, 3),
                         "queued_seconds": round(waited, 3), **fields},
                        headers={"Cache-Control": "no-store"})

  async def layers(request):
    form = await read_form(request)
    sketch_data = await read_file(form, "sketch", required=True)
    result_data = await read_file(form, "result", required=True)
    colors_text = read_field(form, "colors")

    def work():
      with decode_slots:
        sketch = decode_image(sketch_data, "sketch", max_bytes, max_pixels)
        result = decode_image(result_data, "result", max_bytes, max_pixels)
        return layers_psd(sketch, result, colors_text)

    data = await run_in_threadpool(work)
    return Response(data, media_type="image/vnd.adobe.photoshop", headers={
        "Content-Disposition": 'attachment; filename="layers.psd"',
        "Cache-Control": "no-store"})

  routes = [
      Route("/", index),
      Route("/api/health", api(health)),
      Route("/api/palette", api(palette), methods=["POST"]),
      Route("/api/colorize", api(colorize), methods=["POST"]),
      Route("/api/layers", api(layers), methods=["POST"]),
      Mount("/static", StaticFiles(directory=str(web)), name="static"),
  ]
  middleware = ([Middleware(trustedhost.TrustedHostMiddleware,
                              allowed_hosts=list(allowed_hosts))]
                if allowed_hosts is not None else [])
  app = Starlette(routes=routes, middleware=middleware)
  app.state.colorizer = colorizer
  app.state.model_thread = model_thread
  return app


# --------------------------------------------------------------------------- CLI


def require_extra():
  """Imports the serve extra's packages; UserError with the install line if missing."""
  try:
    import python_multipart  # pylint: disable=g-import-not-at-top,unused-import
    import starlette  # pylint: disable=g-import-not-at-top,unused-import
    import uvicorn  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError:
    raise UserError(MISSING_EXTRA) from None


def bind(host, port):
  """A listening-ready socket on (host, port); one-line UserError when that fails."""
  try:
    family, _, _, _, addr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                               flags=socket.AI_PASSIVE)[0]
  except socket.gaierror as e:
    raise UserError(f"cannot listen on {host}: {e.strerror}") from None
  sock = socket.socket(family, socket.SOCK_STREAM)
  sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
  try:
    sock.bind(addr)
  except OSError as e:
    sock.close()
    hint = ": choose another with --port" if e.errno == errno.EADDRINUSE else ""
    raise UserError(f"cannot listen on {host}:{port}: {e.strerror}{hint}") from None
  return sock


def _url(host, port):
  shown = "127.0.0.1" if host in ("0.0.0.0", "") else ("[::1]" if host == "::" else host)
  if ":" in shown and not shown.startswith("["):
    shown = f"[{shown}]"
  return f"http://{shown}:{port}/"


def serve_forever(app, sock, verbose=False):
  """Runs uvicorn on an already bound socket until Ctrl-C."""
  import uvicorn  # pylint: disable=g-import-not-at-top
  config = uvicorn.Config(app, log_level="info" if verbose else "warning",
                          access_log=verbose, timeout_graceful_shutdown=5)
  uvicorn.Server(config).run(sockets=[sock])


def run(args, colorizer=None):
  """Runs `jaxcolor serve`; `colorizer` replaces loading args.checkpoint."""
  require_extra()
  infer.checkpoint_choice(args)  # conflicting flags fail before anything loads
  if args.max_upload_mb <= 0 or args.max_pixels <= 0:
    raise UserError("--max-upload-mb and --max-pixels must be positive")
  # Bind first: a busy port fails at once, not after loading and compiling the model.
  sock = bind(args.host, args.port)
  try:
    if colorizer is None:
      print("loading the model...", file=sys.stderr, flush=True)
      colorizer = infer.Colorizer.from_args(args)
    if not args.no_warmup:
      start = time.perf_counter()
      print("warming up (compiling for 512x512 sketches)...", file=sys.stderr, flush=True)
      warm_up(colorizer)
      print(f"warm in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    loopback = args.host in _LOOPBACK
    app = make_app(colorizer, max_bytes=int(args.max_upload_mb * 2**20),
                   max_pixels=args.max_pixels, buckets=not args.no_buckets,
                   allowed_hosts=("127.0.0.1", "localhost", "[::1]") if loopback else None)
    port = sock.getsockname()[1]
    if not loopback:
      print(f"warning: listening on {args.host}: anyone who can reach this machine can use "
            "the page", file=sys.stderr)
    print(f"jaxcolor serve: {_url(args.host, port)} ({colorizer.config.model.family} model, "
          f"step {colorizer.step}); Ctrl-C stops", flush=True)
    serve_forever(app, sock, verbose=getattr(args, "verbose", False))
  finally:
    sock.close()
  return 0
