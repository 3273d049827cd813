"""jaxcolor.paint: regions of line art, flat colours, clean paper and layers (numpy only).

The PSD is read back by psd-tools and, independently, by ImageMagick (Debian's
`imagemagick`, which `make test` installs with Chromium): its layer names and blend modes,
and its composite against the flat PNG.
"""

import os
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image, ImageDraw

from jaxcolor import sketch as sketch_lib
from jaxcolor.data import synthetic
from jaxcolor.paint import flats as flats_lib
from jaxcolor.paint import layers as layers_lib
from jaxcolor.paint import regions as regions_lib

RED, BLUE, GREEN = (220, 40, 40), (40, 60, 200), (60, 170, 80)


def drawing(size=128, gap=0, line=2):
  """A square, a circle and a small square, closed outlines on white; `gap` px cut out of
  the square's top edge. Returns (sketch, points inside (square, circle, small, paper))."""
  img = Image.new("L", (size, size), 255)
  d = ImageDraw.Draw(img)
  d.rectangle((10, 10, 60, 60), outline=0, width=line)
  d.ellipse((70, 20, 118, 68), outline=0, width=line)
  d.rectangle((20, 80, 34, 94), outline=0, width=line)
  sketch = np.asarray(img).copy()
  if gap:
    sketch[8:14, 35:35 + gap] = 255
  return sketch, {"square": (35, 35), "circle": (94, 44), "small": (27, 87), "paper": (5, 120)}


def label_at(regions, xy):
  return int(regions.labels[xy[1], xy[0]])


# --------------------------------------------------------------------------- regions


def test_closed_shapes_are_regions_and_every_pixel_has_one():
  sketch, at = drawing()
  r = regions_lib.segment(sketch)
  labels = {name: label_at(r, xy) for name, xy in at.items()}
  assert len(set(labels.values())) == 4  # square, circle, small square, paper
  assert r.labels.dtype == np.int32 and r.labels.shape == sketch.shape
  assert r.labels.min() == 0 and r.labels.max() == r.count - 1
  assert r.count == 4 and r.closed == 3
  assert r.border[labels["paper"]] and not r.border[labels["square"]]
  assert r.usable and r.problem is None
  assert r.area.sum() == sketch.size
  # The square's inside is exactly its interior plus its share of the outline.
  inside = r.labels == labels["square"]
  assert inside[12:59, 12:59].all() and not inside[:8].any() and not inside[63:].any()


def test_small_gaps_close_and_wide_ones_do_not():
  sketch, at = drawing(gap=3)
  r = regions_lib.segment(sketch)
  assert label_at(r, at["square"]) != label_at(r, at["paper"])
  sketch, at = drawing(gap=20)
  r = regions_lib.segment(sketch)
  assert label_at(r, at["square"]) == label_at(r, at["paper"])
  # gap=0 closes nothing: the 3 px opening lets the paper in.
  sketch, at = drawing(gap=3)
  r = regions_lib.segment(sketch, gap=0)
  assert label_at(r, at["square"]) == label_at(r, at["paper"])


def test_line_pixels_go_to_the_nearer_side():
  sketch = np.full((40, 60), 255, np.uint8)
  sketch[:, 24:32] = 0  # an 8 px wall from top to bottom: two regions
  r = regions_lib.segment(sketch)
  left, right = r.labels[20, 5], r.labels[20, 55]
  assert left != right and r.count == 2
  np.testing.assert_array_equal(r.labels[:, 24:28], left)
  np.testing.assert_array_equal(r.labels[:, 28:32], right)
  assert r.ink[:, 24:32].all() and not r.ink[:, :24].any()


def test_tiny_regions_join_a_neighbour():
  sketch, at = drawing()
  sketch[40:45, 40:45] = 0
  sketch[42, 42] = 255  # a one-pixel hole inside an ink blob in the square
  r = regions_lib.segment(sketch, min_area=6)
  assert np.bincount(r.labels[~r.ink], minlength=r.count).min() >= 6
  assert r.labels[42, 42] == label_at(r, at["square"])
  assert r.count == 4


def test_specks_of_noise_are_not_lines():
  sketch, at = drawing()
  ys, xs = np.meshgrid(np.arange(15, 57, 4), np.arange(15, 57, 5), indexing="ij")
  ys, xs = ys.ravel(), xs.ravel()
  sketch[ys, xs] = 0  # single dark pixels inside the square
  r = regions_lib.segment(sketch)
  assert r.count == 4
  assert not r.ink[ys, xs].any()


def test_faint_stretches_of_a_line_still_close_its_region():
  sketch, at = drawing()
  sketch[sketch == 0] = 215  # a thin light line, as small renders of thin pens give
  sketch[10:12, 10:20] = 0  # one dark stretch on the square's outline
  r = regions_lib.segment(sketch)
  assert label_at(r, at["square"]) != label_at(r, at["paper"])
  plain = regions_lib.segment(sketch, faint=0)  # the dark stretch alone encloses nothing
  assert label_at(plain, at["square"]) == label_at(plain, at["paper"])


def test_faint_texture_alone_is_not_ink():
  sketch, _ = drawing()
  texture = np.zeros_like(sketch, bool)
  for dy in (0, 1):  # 2x2 grey blots on the paper, touching no line, too big for specks
    for dx in (0, 1):
      texture[100 + dy:126:4, 40 + dx:66:4] = True
  sketch[texture] = 225
  assert not regions_lib.segment(sketch).ink[texture].any()
  assert regions_lib.segment(sketch, threshold=240).ink[texture].all()


def test_deterministic():
  sketch, _ = drawing(gap=3)
  a, b = regions_lib.segment(sketch), regions_lib.segment(sketch.copy())
  np.testing.assert_array_equal(a.labels, b.labels)


def purity(fine, coarse):
  """Share of the paper pixels of `fine`'s regions that lie in their majority `coarse`
  region: 1 when every region of `fine` lies inside one of `coarse` (no leak across a
  line of `coarse`)."""
  kept = total = 0
  for lab in range(fine.count):
    inside = coarse.labels[(fine.labels == lab) & ~fine.ink & ~coarse.ink]
    if inside.size:
      kept += np.bincount(inside).max()
      total += inside.size
  return kept / total


@pytest.mark.parametrize("seed", [3, 8, 11])
def test_filter_made_lines_do_not_leak(seed):
  # A synthetic cel's drawn outline layer against XDoG lines of its colour picture, with
  # specks: the noisy, broken lines of filter-made sketches. XDoG also draws the shading's
  # edges, so it may split a region in two, but its regions must not spill over a line.
  color, drawn = synthetic.draw_cel(seed, 256)
  gray = color.astype(np.float32) @ np.array([0.299, 0.587, 0.114]) / 255.0
  xdog = (sketch_lib.xdog(gray, phi=100.0) * 255).astype(np.uint8)
  rng = np.random.default_rng(seed)
  xdog[rng.random(xdog.shape) < 0.003] = 0
  clean, noisy = regions_lib.segment(drawn), regions_lib.segment(xdog)
  assert clean.usable and noisy.usable
  assert purity(noisy, clean) > 0.97
  # Lines broken in places (1-3 px gaps) still close the same regions.
  broken = drawn.copy()
  ys, xs = np.nonzero(drawn < 128)
  for i in rng.choice(len(ys), 12, replace=False):
    broken[ys[i] - 1:ys[i] + 2, xs[i] - 1:xs[i] + 2] = 255
  again = regions_lib.segment(broken)
  assert again.count >= clean.count - 2 and purity(again, clean) > 0.97


def test_scribbles_and_photos_have_no_usable_regions():
  scribble = np.full((100, 100), 255, np.uint8)
  for i in range(80):  # an open zig-zag: it encloses nothing
    scribble[10 + i, 10 + (i * 7) % 30] = 0
    scribble[10 + i, 11 + (i * 7) % 30] = 0
  r = regions_lib.segment(scribble)
  assert not r.usable and "enclose no region" in r.problem
  photo = np.random.default_rng(0).integers(0, 256, (100, 100)).astype(np.uint8)
  r = regions_lib.segment(photo)
  assert not r.usable and "photo" in r.problem
  assert regions_lib.segment(np.zeros((20, 20), np.uint8)).count == 1


def test_region_ids_survive_a_png():
  labels = np.arange(300 * 70).reshape(300, 70) * 797 % (1 << 24)
  rgb = regions_lib.encode_labels(labels)
  assert rgb.dtype == np.uint8 and rgb.shape == (300, 70, 3)
  np.testing.assert_array_equal(regions_lib.decode_labels(rgb), labels)
  with pytest.raises(ValueError):
    regions_lib.encode_labels(np.array([[1 << 24]]))


# --------------------------------------------------------------------------- flats


def coloured(sketch, at, regions, tint=(238, 236, 226)):
  """A fake model result: noisy region colours, a tinted paper, dark lines."""
  rng = np.random.default_rng(1)
  rgb = np.empty(sketch.shape + (3,), np.float32)
  rgb[:] = tint
  for name, c in (("square", RED), ("circle", BLUE), ("small", GREEN)):
    rgb[regions.labels == label_at(regions, at[name])] = c
  rgb += rng.normal(0, 6, rgb.shape)
  odd = rng.random(sketch.shape) < 0.05
  rgb[odd] = (255, 255, 0)  # outliers: a median ignores them
  rgb[sketch < 128] = 20
  return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def test_each_region_gets_the_median_of_the_result_and_paper_is_white():
  sketch, at = drawing()
  r = regions_lib.segment(sketch)
  f = flats_lib.flat_colors(r, coloured(sketch, at, r))
  for name, c in (("square", RED), ("circle", BLUE), ("small", GREEN)):
    got = f.colors[label_at(r, at[name])].astype(int)
    assert np.abs(got - c).max() <= 6, (name, got)
    assert not f.paper[label_at(r, at[name])]
  assert tuple(f.colors[label_at(r, at["paper"])]) == flats_lib.WHITE
  assert f.paper[label_at(r, at["paper"])]
  image = flats_lib.flat_image(sketch, r, f)
  # One colour per region off the lines, and the lines as drawn.
  for lab in range(r.count):
    off_line = (r.labels == lab) & (sketch == 255)
    assert len(np.unique(image[off_line], axis=0)) == 1
  np.testing.assert_array_equal(image[sketch == 0], 0)
  np.testing.assert_array_equal(image[at["paper"][1], at["paper"][0]], flats_lib.WHITE)


def test_a_colour_point_fills_its_whole_region_exactly():
  sketch, at = drawing()
  r = regions_lib.segment(sketch)
  rgb = coloured(sketch, at, r)
  # A dot of 5x5 pixels in the circle, half a pixel off in a 2x larger RGBA image.
  rgba = np.zeros((256, 256, 4), np.uint8)
  x, y = at["circle"]
  rgba[2 * y - 4:2 * y + 6, 2 * x - 4:2 * x + 6] = (250, 200, 10, 255)
  dots = flats_lib.dots_from_rgba(r, rgba)
  assert dots == [(label_at(r, at["circle"]), (250, 200, 10))]
  f = flats_lib.flat_colors(r, rgb, dots)
  image = flats_lib.flat_image(sketch, r, f)
  inside = (r.labels == label_at(r, at["circle"])) & (sketch == 255)
  np.testing.assert_array_equal(image[inside], np.broadcast_to((250, 200, 10), image[inside].shape))
  assert f.pointed.sum() == 1
  # A clicked point names the region of its pixel; one on the paper un-papers it.
  dots = flats_lib.dots_from_points(r, [(at["paper"][0], at["paper"][1], (9, 9, 9))])
  f = flats_lib.flat_colors(r, rgb, dots)
  assert tuple(f.colors[label_at(r, at["paper"])]) == (9, 9, 9) and not f.paper.any()


def test_a_dot_on_a_line_goes_to_the_side_most_of_it_covers():
  sketch, at = drawing()
  r = regions_lib.segment(sketch)
  rgba = np.zeros(sketch.shape + (4,), np.uint8)
  rgba[30:35, 9:16] = (0, 0, 255, 255)  # over the square's left edge (x 10-11), mostly inside
  assert flats_lib.dots_from_rgba(r, rgba) == [(label_at(r, at["square"]), (0, 0, 255))]


def test_a_dot_gives_its_region_its_colour_and_keeps_the_shading():
  sketch, at = drawing()
  r = regions_lib.segment(sketch)
  rgb = coloured(sketch, at, r).astype(np.int32)
  # A light-to-dark ramp across the square: shading the fill must keep.
  square = (r.labels == label_at(r, at["square"])) & (sketch == 255)
  rgb[square] = np.clip(rgb[square] + (np.nonzero(square)[1][:, None] - 35), 0, 255)
  rgb = rgb.astype(np.uint8)
  dot = (40, 150, 70)
  out = flats_lib.fill_dots(rgb, r, [(label_at(r, at["square"]), (200, 0, 0)),
                                     (label_at(r, at["square"]), dot)])  # the later wins
  inside = square & ~r.ink
  lab_in, lab_out = flats_lib.color.rgb_to_lab(rgb[inside]), flats_lib.color.rgb_to_lab(out[inside])
  dot_lab = flats_lib.color.rgb_to_lab(np.array(dot, np.float64))
  # The dot's hue and chroma (gamut clipping and rounding aside) ...
  assert np.median(np.abs(lab_out[:, 1:] - dot_lab[1:])) < 1.5
  # ... its lightness at the region's median, and the model's light and dark kept.
  assert abs(np.median(lab_out[:, 0]) - dot_lab[0]) < 1.0
  shift = lab_out[:, 0] - lab_in[:, 0]
  assert np.ptp(lab_in[:, 0]) > 20 and np.percentile(np.abs(shift - np.median(shift)), 90) < 1.5
  # Lines and every other region as the model left them.
  np.testing.assert_array_equal(out[~inside], rgb[~inside])
  np.testing.assert_array_equal(flats_lib.fill_dots(rgb, r, []), rgb)


def test_clean_paper_whitens_only_the_tinted_paper():
  sketch, at = drawing()
  r = regions_lib.segment(sketch)
  rgb = coloured(sketch, at, r)
  clean = flats_lib.clean_paper(rgb, sketch, r)
  paper = (r.labels == label_at(r, at["paper"])) & (sketch == 255)
  yellow = (rgb == (255, 255, 0)).all(-1)
  # The tint is gone (a few noise pixels of chroma over 20 keep a trace of it).
  assert (clean[paper & ~yellow] == 255).all(-1).mean() > 0.995
  np.testing.assert_array_equal(clean[yellow], rgb[yellow])  # strong colour stays
  others = r.labels != label_at(r, at["paper"])
  np.testing.assert_array_equal(clean[others], rgb[others])
  np.testing.assert_array_equal(clean[sketch == 0], rgb[sketch == 0])
  # A coloured background is not paper: nothing changes.
  blue = coloured(sketch, at, r, tint=(120, 160, 230))
  np.testing.assert_array_equal(flats_lib.clean_paper(blue, sketch, r), blue)


def test_repair_corner_paints_over_the_spike_only():
  sketch, at = drawing()
  r = regions_lib.segment(sketch)
  rgb = coloured(sketch, at, r)
  spiked = rgb.copy()
  spiked[2:12, -22:-4:2] = (0, 255, 255)  # the starter's cyan and magenta pixels
  spiked[3:12:2, -20:-6] = (255, 0, 255)
  spiked[30, 100] = (0, 255, 255)  # one outside the corner: not the spike
  fixed = flats_lib.repair_corner(spiked, sketch, r)
  block = (slice(0, 24), slice(128 - 32, 128))
  changed = (fixed != spiked).any(-1)
  spike = (spiked != rgb).any(-1)
  assert (changed[block] >= spike[block]).all()  # every spike pixel went ...
  assert (fixed[changed] == 255).all()  # ... to white paper (as did some noisy tint)
  np.testing.assert_array_equal(fixed[30, 100], (0, 255, 255))
  outside = np.ones(sketch.shape, bool)
  outside[block] = False
  np.testing.assert_array_equal(fixed[outside], spiked[outside])
  # The block is at the top right of the canvas the model ran on (padding included).
  moved = flats_lib.repair_corner(spiked, sketch, r, canvas_width=128 + 16)
  np.testing.assert_array_equal(moved[:, :112], spiked[:, :112])
  assert (moved[2:12, 112:124] != spiked[2:12, 112:124]).any()
  # In a coloured region only glaring pixels go; its shading stays.
  shaded = np.full((64, 64, 3), (200, 90, 60), np.uint8)
  shaded[:, 40:] = (170, 75, 50)  # a shadow, a few Delta E off the region's colour
  shaded[5, 60] = (0, 255, 255)
  blank = np.full((64, 64), 255, np.uint8)
  blank[40:, :] = 0  # an edge: the top is one region that is not paper
  rb = regions_lib.segment(blank)
  out = flats_lib.repair_corner(shaded, blank, rb)
  assert tuple(out[5, 60]) != (0, 255, 255)
  np.testing.assert_array_equal(out[:, :60][:20], shaded[:, :60][:20])
  np.testing.assert_array_equal(np.delete(out[:24, 32:].reshape(-1, 3), 5 * 32 + 28, 0),
                                np.delete(shaded[:24, 32:].reshape(-1, 3), 5 * 32 + 28, 0))


def test_median_lab_matches_numpy():
  rng = np.random.default_rng(0)
  labels = rng.integers(0, 5, (30, 40))
  rgb = rng.integers(0, 256, (30, 40, 3)).astype(np.uint8)
  lab = flats_lib.to_lab(rgb)
  med = flats_lib.median_lab(labels, 5, lab)
  for i in range(5):
    want = np.median(lab[labels == i], axis=0)
    np.testing.assert_allclose(med[i], want, atol=1.0)


# --------------------------------------------------------------------------- layers


@pytest.fixture(scope="module")
def painted():
  sketch, at = drawing()
  r = regions_lib.segment(sketch)
  rgb = coloured(sketch, at, r)
  f = flats_lib.flat_colors(r, rgb)
  return sketch, r, f, rgb, layers_lib.make_layers(sketch, r, f, rgb)


def test_layers_compose_to_the_flat_result(painted, tmp_path):
  sketch, r, f, rgb, lay = painted
  np.testing.assert_array_equal(lay.composite, flats_lib.flat_image(sketch, r, f))
  assert (lay.flats[..., 3][f.paper[r.labels]] == 0).all()
  assert (lay.flats[..., 3][~f.paper[r.labels]] == 255).all()
  # Shown, the shading brings the flats to the result wherever the result is darker.
  shaded = lay.composite.astype(np.float32) * lay.shading / 255.0
  darker = rgb <= lay.composite
  assert np.abs(shaded[darker] - rgb[darker]).max() <= 2.0
  paths = lay.save_pngs(tmp_path / "layers")
  assert [p.name for p in paths] == ["1_paper.png", "2_flats.png", "3_shading.png",
                                     "4_line_art.png"]
  # Stacked with plain "over" blending, the PNGs make the same picture.
  stack = Image.open(paths[0]).convert("RGBA")
  for p in paths[1:]:
    if "shading" not in p.name:
      stack = Image.alpha_composite(stack, Image.open(p).convert("RGBA"))
  diff = np.abs(np.asarray(stack.convert("RGB"), int) - lay.composite.astype(int))
  assert diff.max() <= 1


def test_psd_layers_read_back_with_psd_tools(painted, tmp_path):
  psd_tools = pytest.importorskip("psd_tools")
  *_, lay = painted
  path = tmp_path / "drawing.psd"
  lay.save_psd(path)
  psd = psd_tools.PSDImage.open(path)
  assert [layer.name for layer in psd] == ["paper", "flats", "shading", "line art"]
  modes = {layer.name: (layer.blend_mode.name, layer.visible) for layer in psd}
  assert modes["line art"] == ("MULTIPLY", True) and modes["shading"] == ("MULTIPLY", False)
  assert modes["flats"] == ("NORMAL", True) and modes["paper"] == ("NORMAL", True)
  assert psd.size == lay.size
  assert lay.psd_bytes()[:4] == b"8BPS"


def imagemagick():
  """ImageMagick's convert (Debian's imagemagick), or None."""
  for name in ("/usr/bin/convert", "/usr/bin/magick"):
    if os.path.exists(name) and not os.path.realpath(name).endswith("/gm"):
      return name
  return shutil.which("magick")


def read_psd_with_imagemagick(path, tmp_path):
  """(layer names bottom up, their compose modes, stored composite, ImageMagick's own
  flattening of the visible layers) of a PSD, as ImageMagick reads it; None without it."""
  magick = imagemagick()
  if magick is None:
    return None
  folder = os.path.dirname(magick)
  identify = [magick, "identify"] if magick.endswith("magick") else [
      os.path.join(folder, "identify")]
  convert = [magick, "convert"] if magick.endswith("magick") else [magick]
  info = subprocess.run(identify + ["-format", "%[label]|%[compose]\n", str(path)],
                        capture_output=True, text=True, check=True).stdout.splitlines()
  # [0] is the stored composite, then the layers bottom up; a hidden layer reads as None.
  names = [line.split("|")[0] for line in info[1:]]
  modes = [line.split("|")[1] for line in info[1:]]
  subprocess.run(convert + [f"{path}[0]", str(tmp_path / "im_stored.png")], check=True)
  subprocess.run(convert + [str(path), "-delete", "0", "-background", "white", "-flatten",
                            str(tmp_path / "im_flattened.png")], check=True)
  read = lambda name: np.asarray(Image.open(tmp_path / name).convert("RGB"), int)
  return names, modes, read("im_stored.png"), read("im_flattened.png")


def test_imagemagick_reads_the_psd_layers_and_composite(painted, tmp_path):
  if imagemagick() is None:
    pytest.skip("needs ImageMagick (apt-get install -y imagemagick; `make test` does)")
  pytest.importorskip("psd_tools")
  sketch, r, f, _, lay = painted
  path = tmp_path / "drawing.psd"
  lay.save_psd(path)
  flat_png = tmp_path / "flat.png"
  Image.fromarray(flats_lib.flat_image(sketch, r, f)).save(flat_png)
  names, modes, stored, flattened = read_psd_with_imagemagick(path, tmp_path)
  assert names == ["paper", "flats", "shading", "line art"]
  assert modes == ["Over", "Over", "None", "Multiply"]
  want = np.asarray(Image.open(flat_png).convert("RGB"), int)
  assert np.abs(stored - want).max() <= 1
  # ImageMagick's own blending of the visible layers (line art multiplied) agrees too.
  assert np.abs(flattened - want).max() <= 1
