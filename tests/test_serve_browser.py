"""`jaxcolor serve` end to end in headless Chromium (Debian's /usr/bin/chromium, Playwright).

uvicorn serves the app on 127.0.0.1 in a thread; the page uploads a sketch and a reference,
edits a swatch, places colour points with the mouse and the keyboard, colours, and shows
the result, with the bundled palette starter (`--model palette`): the page's swatch
editing, which these tests drive, is for palette models; the default reference family's
page path is the same form without swatches, and tests/test_reference.py serves it. The
screenshot goes to tmp_path, and with JAXCOLOR_README_SCREENSHOT=1 also to docs/serve.png
(shown in the README).

JAXCOLOR_SCREENSHOT_CHECKPOINT=PATH takes that training run instead of the starter, and
`tiny` the tiny test model (with untrained point inputs).
"""

import base64
import copy
import json
import os
import pathlib
import threading
import time

import numpy as np
import pytest
from PIL import Image

# Page script: records the form fields of every request the page sends (window.sent).
_RECORD_FORMS = """
    window.sent = [];
    const fetch = window.fetch;
    window.fetch = (url, options) => {
      if (options && options.body instanceof FormData) {
        window.sent.push(Object.fromEntries([...options.body.entries()].map(
            ([k, v]) => [k, typeof v === 'string' ? v : 'file ' + v.name])));
      }
      return fetch(url, options);
    };
"""

CHROMIUM = "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
  pytest.skip(f"needs {CHROMIUM} (apt-get install -y chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="needs playwright (pip install playwright)")
uvicorn = pytest.importorskip("uvicorn")
pytest.importorskip("starlette")

from jaxcolor import infer  # pylint: disable=g-import-not-at-top,wrong-import-position
from jaxcolor import serve  # pylint: disable=g-import-not-at-top,wrong-import-position
from jaxcolor.data import synthetic  # pylint: disable=g-import-not-at-top,wrong-import-position

ROOT = pathlib.Path(__file__).resolve().parents[1]
# Debian's Chromium, never a downloaded browser; nothing it may reach but the test server.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SIZE = 256


@pytest.fixture(scope="module")
def colorizer(request):
  path = os.environ.get("JAXCOLOR_SCREENSHOT_CHECKPOINT", "starter")
  if path != "tiny":
    if path == "starter":
      return infer.Colorizer.from_checkpoint(model="palette")
    return infer.Colorizer.from_checkpoint(path)
  trained = infer.Colorizer.from_checkpoint(str(request.getfixturevalue("trained_run")[0]))
  if serve.accepts_points(trained):
    return trained
  # The tiny test model takes no colour points: the same network with point inputs, at
  # its initial parameters, lets the page place points.
  from jaxcolor import models  # pylint: disable=g-import-not-at-top
  config = copy.deepcopy(trained.config)
  with config.unlocked():
    config.model.points = True
  return infer.Colorizer(config, models.init_generator(config.model, 0, config.image_size),
                         step=0, source="tiny test model with colour points")


@pytest.fixture(scope="module")
def server_url(colorizer):
  app = serve.make_app(colorizer, allowed_hosts=("127.0.0.1", "localhost"))
  sock = serve.bind("127.0.0.1", 0)
  server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
  thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
  thread.start()
  deadline = time.monotonic() + 60
  while not server.started:
    assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
    time.sleep(0.05)
  yield f"http://127.0.0.1:{sock.getsockname()[1]}"
  server.should_exit = True
  thread.join(timeout=30)
  sock.close()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
  folder = tmp_path_factory.mktemp("browser_inputs")
  _, sketch = synthetic.draw_cel(3, SIZE)
  reference, _ = synthetic.draw_cel(8, SIZE)
  Image.fromarray(sketch).save(folder / "my sketch.png")
  Image.fromarray(reference).save(folder / "reference.png")
  from test_paint import drawing  # pylint: disable=g-import-not-at-top
  Image.fromarray(drawing()[0]).save(folder / "shapes.png")
  (folder / "notes.txt").write_text("not an image")
  return folder


@pytest.fixture()
def page(server_url):
  with sync_api.sync_playwright() as p:
    browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
      context = browser.new_context(viewport={"width": 1280, "height": 860},
                                    accept_downloads=True)
      pg = context.new_page()
      pg.set_default_timeout(180_000)  # the first colouring of a size compiles
      pg.problems = []
      pg.on("pageerror", lambda e: pg.problems.append(f"page error: {e}"))
      pg.on("console", lambda m: m.type == "error" and pg.problems.append(m.text))
      # Everything comes from the server itself (or data:/blob: URLs it made).
      pg.on("request", lambda r: r.url.startswith((server_url, "data:", "blob:"))
            or pg.problems.append(f"external request {r.url}"))
      pg.goto(server_url + "/")
      pg.wait_for_function(
          "() => document.getElementById('model-info').textContent.includes('model')")
      yield pg
    finally:
      browser.close()


def points_count(page):
  return page.text_content("#points-count")


def test_colour_a_sketch(page, inputs, tmp_path):
  page.set_input_files("#sketch-file", str(inputs / "my sketch.png"))
  page.wait_for_function("() => document.getElementById('status').textContent.includes('loaded')")
  page.set_input_files("#reference-file", str(inputs / "reference.png"))
  page.wait_for_selector("#swatch-hex-1")
  assert page.locator("#swatches li").count() >= 2
  page.fill("#swatch-hex-1", "#d03030")
  assert page.input_value("#swatch-color-1") == "#d03030"

  page.fill("#point-color", "#2040c0")
  box = page.locator("#sketch-canvas").bounding_box()
  page.click("#sketch-canvas", position={"x": box["width"] * 0.35, "y": box["height"] * 0.4})
  page.fill("#point-color", "#f0c020")
  page.click("#sketch-canvas", position={"x": box["width"] * 0.6, "y": box["height"] * 0.65})
  assert points_count(page) == "2 points"
  # The keyboard places and undoes points too.
  page.focus("#sketch-canvas")
  page.keyboard.press("ArrowLeft")
  page.keyboard.press("Enter")
  assert points_count(page) == "3 points"
  page.focus("#undo-point")
  page.keyboard.press("Enter")
  assert points_count(page) == "2 points"

  # Record what the page sends and the busy state it shows meanwhile.
  page.evaluate("""() => {
""" + _RECORD_FORMS + """
    window.busySeen = [];
    const results = document.getElementById('results');
    const button = document.getElementById('colorize');
    new MutationObserver(() => window.busySeen.push(
        results.getAttribute('aria-busy') + ':' + button.disabled))
      .observe(results, {attributes: true, attributeFilter: ['aria-busy']});
  }""")
  page.click("#colorize")
  # Waits for the end of the busy state too, so that the check of its record below does
  # not depend on the order of the two (it failed once under heavy CPU load).
  page.wait_for_function("""() => {
    const img = document.querySelector('#results img');
    return img && img.complete && img.naturalWidth > 0 &&
        document.getElementById('results').getAttribute('aria-busy') === 'false';
  }""")
  assert page.evaluate("document.querySelector('#results img').naturalWidth") == SIZE
  assert page.evaluate("window.busySeen") == ["true:true", "false:false"]
  sent = page.evaluate("window.sent")
  assert len(sent) == 1 and sent[0]["sketch"] == "file my sketch.png"
  assert sent[0]["reference"] == "file reference.png" and sent[0]["variations"] == "1"
  palette = json.loads(sent[0]["palette"])  # the edited swatches: they win over the reference
  assert palette[0] == "#d03030" and len(palette) == page.locator("#swatches li").count()
  points = json.loads(sent[0]["points"])
  assert [p["color"] for p in points] == ["#2040c0", "#f0c020"]
  assert all(0 <= p["x"] < SIZE and 0 <= p["y"] < SIZE for p in points)
  assert abs(points[0]["x"] - 0.35 * SIZE) <= 2 and abs(points[1]["y"] - 0.65 * SIZE) <= 2
  assert page.get_attribute("#results a", "download") == "my_sketch_color.png"
  assert page.text_content("#error") == ""
  assert page.text_content("#status").startswith("done in")
  page.evaluate("() => window.scrollTo(0, 0)")
  page.screenshot(path=str(tmp_path / "serve.png"))
  if os.environ.get("JAXCOLOR_README_SCREENSHOT"):  # refresh the README's picture on request
    page.screenshot(path=str(ROOT / "docs" / "serve.png"))

  # A download is the PNG itself.
  with page.expect_download() as download:
    page.click("#results a")
  saved = tmp_path / "download.png"
  download.value.save_as(saved)
  assert Image.open(saved).size == (SIZE, SIZE)
  assert not page.problems, page.problems


def test_errors_are_shown(page, inputs):
  # An unreadable sketch is refused before any upload.
  page.set_input_files("#sketch-file", str(inputs / "notes.txt"))
  page.wait_for_function("() => document.getElementById('error').textContent.includes('sketch')")
  # A server error (here a stand-in 413) is shown, and the button works again.
  page.set_input_files("#sketch-file", str(inputs / "my sketch.png"))
  page.wait_for_function("() => document.getElementById('status').textContent.includes('loaded')")
  page.route("**/api/colorize", lambda route: route.fulfill(
      status=413, content_type="application/json",
      body='{"error": "sketch is 12.0 MB: the limit is 10.0 MB"}'))
  page.click("#colorize")
  page.wait_for_function("() => document.getElementById('error').textContent.includes('limit')")
  assert page.text_content("#error") == "sketch is 12.0 MB: the limit is 10.0 MB"
  assert page.is_enabled("#colorize")
  assert page.get_attribute("#results", "aria-busy") == "false"
  assert not [p for p in page.problems if "413" not in p], page.problems


def test_every_control_has_a_label_and_a_tab_stop(page, inputs):
  page.set_input_files("#sketch-file", str(inputs / "my sketch.png"))
  page.set_input_files("#reference-file", str(inputs / "reference.png"))
  page.wait_for_selector("#swatch-hex-1")
  unlabelled = page.evaluate("""() => [...document.querySelectorAll('input, button, canvas')]
    .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                 && !(e.tagName === 'BUTTON' && e.textContent.trim()))
    .map(e => e.id)""")
  assert unlabelled == []
  reached, outlines = [], {}
  for _ in range(80):
    page.keyboard.press("Tab")
    info = page.evaluate("""() => { const e = document.activeElement;
      return [e.id || e.tagName, getComputedStyle(e).outlineStyle]; }""")
    reached.append(info[0])
    outlines[info[0]] = info[1]
  controls = page.evaluate("""() => [...document.querySelectorAll('input, button, canvas')]
    .filter(e => !e.disabled && !e.hidden && e.offsetParent !== null).map(e => e.id)""")
  for control in ("sketch-file", "reference-file", "remove-reference", "swatch-color-1",
                  "swatch-hex-1", "save-palette", "load-palette-button", "point-color",
                  "undo-point", "clear-points", "seed", "flat", "colorize", "sketch-canvas"):
    assert control in controls, control
  assert all(controls)  # every control has an id
  for control in controls:  # every enabled control is a tab stop with a visible focus
    assert control in reached, (control, reached)
    assert outlines[control] != "none", control


def test_drop_palette_file_and_variations(page, inputs, tmp_path):
  # Drag and drop: a file dropped on the sketch's zone is the sketch.
  data = base64.b64encode((inputs / "my sketch.png").read_bytes()).decode("ascii")
  page.evaluate("""(data) => {
    const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], 'dropped.png', {type: 'image/png'}));
    document.getElementById('sketch-drop').dispatchEvent(
        new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
  }""", data)
  page.wait_for_function("() => document.getElementById('status').textContent.includes('loaded')")
  assert page.text_content("#status") == f"sketch {SIZE}x{SIZE} loaded"

  # Swatches by hand: add, edit, remove; save and load a palette file.
  page.click("#add-swatch")
  page.click("#add-swatch")
  assert page.input_value("#swatch-hex-2") == "#808080"
  assert page.evaluate("() => document.activeElement.id") == "swatch-hex-2"
  page.fill("#swatch-hex-1", "#12g")
  assert page.get_attribute("#swatch-hex-1", "aria-invalid") == "true"
  page.click("#colorize")
  assert "colour 1 is not a hex colour" in page.text_content("#error")
  page.fill("#swatch-hex-1", "#1a2")
  assert page.input_value("#swatch-color-1") == "#11aa22"
  page.click("#swatch-remove-2")
  assert page.locator("#swatches li").count() == 1
  with page.expect_download() as download:
    page.click("#save-palette")
  saved = tmp_path / "palette.json"
  download.value.save_as(saved)
  assert json.loads(saved.read_text()) == {"colors": ["#11aa22"]}
  palette = tmp_path / "mine.json"
  palette.write_text(json.dumps(["#ABC", "#102030", "#f0f0f0"]))
  page.set_input_files("#load-palette", str(palette))
  page.wait_for_function("() => document.querySelectorAll('#swatches li').length === 3")
  assert [page.input_value(f"#swatch-hex-{i}") for i in (1, 2, 3)] == [
      "#aabbcc", "#102030", "#f0f0f0"]
  palette.write_text('{"colors": "red"}')
  page.set_input_files("#load-palette", str(palette))
  page.wait_for_function(
      "() => document.getElementById('error').textContent.includes('palette file')")
  assert page.locator("#swatches li").count() == 3  # a bad file changes nothing

  # Four variations, from the seed field.
  if not page.is_enabled("#variations"):
    return  # a model without noise injection (JAXCOLOR_SCREENSHOT_CHECKPOINT)
  page.fill("#seed", "5")
  page.click("#variations")
  page.wait_for_function("""() => { const imgs = document.querySelectorAll('#results img');
    return imgs.length === 4 && [...imgs].every((i) => i.complete && i.naturalWidth > 0); }""")
  captions = page.locator("#results figcaption span").all_text_contents()
  assert captions == ["seed 5", "seed 6", "seed 7", "seed 8"]
  assert page.get_attribute("#results figure:nth-child(4) a", "download") == (
      "dropped_color_v3.png")
  assert page.text_content("#error") == ""


def result_pixel(page, x, y, index=0):
  """[r, g, b] of the shown result image at sketch pixel (x, y)."""
  return page.evaluate("""([x, y, i]) => {
    const img = document.querySelectorAll('#results img')[i];
    const c = document.createElement('canvas');
    c.width = img.naturalWidth; c.height = img.naturalHeight;
    const ctx = c.getContext('2d');
    ctx.drawImage(img, 0, 0);
    return Array.from(ctx.getImageData(x, y, 1, 1).data.slice(0, 3));
  }""", [x, y, index])


def wait_result_changed(page, before):
  page.wait_for_function("(src) => document.querySelector('#results img').src !== src",
                         arg=before)


def test_flats_bucket_fill_and_layers(page, inputs, tmp_path):
  # test_paint's drawing: the square's inside is around (35, 35) of its 128x128 pixels.
  page.set_input_files("#sketch-file", str(inputs / "shapes.png"))
  page.wait_for_function("() => document.getElementById('status').textContent.includes('loaded')")
  assert page.is_disabled("#bucket")  # nothing to fill before a result
  page.click("#add-swatch")
  page.fill("#swatch-hex-1", "#c08040")
  page.check("#flat")
  page.evaluate("() => {" + _RECORD_FORMS + "}")
  page.click("#colorize")
  page.wait_for_function("() => !document.getElementById('bucket').disabled")
  assert page.evaluate("window.sent")[0]["flat"] == "1"
  assert page.get_attribute("#results img", "alt") == "Flat coloured sketch"
  flat_square, flat_paper = result_pixel(page, 35, 35), result_pixel(page, 64, 64)
  assert result_pixel(page, 36, 30) == flat_square  # one colour across the region
  assert result_pixel(page, 10, 35) == [0, 0, 0]  # the square's outline, as drawn

  # Bucket: click the square in the result; it takes the point colour at once.
  page.fill("#point-color", "#2040c0")
  page.click("#bucket")
  assert page.get_attribute("#bucket", "aria-pressed") == "true"
  box = page.locator("#results img").bounding_box()
  before = page.get_attribute("#results img", "src")
  page.click("#results img", position={"x": box["width"] * 35.5 / 128,
                                       "y": box["height"] * 35.5 / 128})
  wait_result_changed(page, before)
  assert result_pixel(page, 35, 35) == [32, 64, 192]
  assert result_pixel(page, 58, 58) == [32, 64, 192]  # the whole region, no model call
  assert result_pixel(page, 10, 35) == [0, 0, 0]  # lines stay as drawn
  assert len(page.evaluate("window.sent")) == 1
  assert page.text_content("#fills-count") == "1 fill"
  # By keyboard: the sketch's cursor starts at its centre (64, 64), on the paper.
  page.fill("#point-color", "#f0e020")
  page.focus("#sketch-canvas")
  before = page.get_attribute("#results img", "src")
  page.keyboard.press("Enter")
  wait_result_changed(page, before)
  assert result_pixel(page, 64, 64) == [240, 224, 32]
  assert page.text_content("#fills-count") == "2 fills"
  # Undo takes the last fill back.
  page.focus("#undo-fill")
  before = page.get_attribute("#results img", "src")
  page.keyboard.press("Enter")
  wait_result_changed(page, before)
  assert result_pixel(page, 64, 64) == flat_paper
  assert result_pixel(page, 35, 35) == [32, 64, 192]
  assert page.text_content("#fills-count") == "1 fill"

  # The PNG download and the PSD both hold the fill.
  with page.expect_download() as download:
    page.click("#results a")
  png_path = tmp_path / "flat.png"
  download.value.save_as(png_path)
  png = np.asarray(Image.open(png_path).convert("RGB"))
  assert list(png[35, 35]) == [32, 64, 192]
  with page.expect_download() as download:
    page.click("#psd-0")
  assert download.value.suggested_filename == "shapes_color.psd"
  psd_path = tmp_path / "layers.psd"
  download.value.save_as(psd_path)
  psd_tools = pytest.importorskip("psd_tools")
  psd = psd_tools.PSDImage.open(psd_path)
  assert [layer.name for layer in psd] == ["paper", "flats", "shading", "line art"]
  composite = np.asarray(psd.topil().convert("RGB"), int)
  assert np.abs(composite - png.astype(int)).max() <= 1
  # An independent reader, ImageMagick, sees the same layers and picture.
  from test_paint import read_psd_with_imagemagick  # pylint: disable=g-import-not-at-top
  seen = read_psd_with_imagemagick(psd_path, tmp_path)
  if seen is not None:
    names, _, stored, flattened = seen
    assert names == ["paper", "flats", "shading", "line art"]
    assert np.abs(stored - png).max() <= 1 and np.abs(flattened - png).max() <= 1
  assert not page.problems, page.problems
