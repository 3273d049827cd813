"""Flat colours and layers through `Colorizer` and `jaxcolor colorize`, and clean outputs.

The tiny palette model at its initial parameters (with colour points switched on) colours:
its colours are noise, which is all the flats need; the starter model checks the clean
corner and paper.
"""

import copy
import warnings

import numpy as np
import pytest
from PIL import Image

from conftest import config_module
from jaxcolor import cli
from jaxcolor import demo
from jaxcolor import infer
from jaxcolor import models
from jaxcolor.errors import UserError
from jaxcolor.paint import flats as flats_lib
from jaxcolor.paint import regions as regions_lib
from test_paint import drawing, label_at

tiny = config_module("tiny")
PALETTE = "#e0b090,#3050a0,#c03020"


@pytest.fixture(scope="module")
def colorizer():
  config = copy.deepcopy(tiny.get_config("palette"))
  with config.unlocked():
    config.model.points = True
  return infer.Colorizer(config, models.init_generator(config.model, 0, 64))


def scribble(size=128):
  img = np.full((size, size), 255, np.uint8)
  for i in range(size - 20):  # an open zig-zag: it encloses nothing
    img[10 + i, 10 + (i * 7) % 40:12 + (i * 7) % 40] = 0
  return img


def test_flat_result_has_one_colour_per_region_and_the_lines_as_drawn(colorizer):
  sketch, at = drawing()
  plain = np.asarray(colorizer(sketch, palette=PALETTE))
  flat = np.asarray(colorizer(sketch, palette=PALETTE, flat=True))
  assert flat.shape == plain.shape == sketch.shape + (3,)
  r = regions_lib.segment(sketch)
  for lab in range(r.count):
    off_line = (r.labels == lab) & (sketch == 255)
    assert len(np.unique(flat[off_line], axis=0)) == 1
  np.testing.assert_array_equal(flat[sketch == 0], 0)
  # The colour is the median of the plain result there.
  f = flats_lib.flat_colors(r, plain)
  square = label_at(r, at["square"])
  np.testing.assert_array_equal(flat[at["square"][1], at["square"][0]], f.colors[square])


def _dot_in_circle(at, rgb=(10, 200, 90)):
  dots = np.zeros((64, 64, 4), np.uint8)  # any size: scaled onto the sketch
  x, y = at["circle"]
  dots[y // 2 - 1:y // 2 + 2, x // 2 - 1:x // 2 + 2] = (*rgb, 255)
  return dots


def test_a_colour_point_fills_its_region(colorizer):
  sketch, at = drawing()
  dots = _dot_in_circle(at)
  flat = np.asarray(colorizer(sketch, palette=PALETTE, points=dots, flat=True))
  r = regions_lib.segment(sketch)
  inside = (r.labels == label_at(r, at["circle"])) & (sketch == 255)
  assert (flat[inside] == (10, 200, 90)).all()
  assert not (flat[(r.labels == label_at(r, at["square"])) & (sketch == 255)]
              == (10, 200, 90)).all()


def _lab(rgb):
  return flats_lib.color.rgb_to_lab(np.asarray(rgb, np.float64))


def test_with_a_palette_a_dot_fills_its_region_and_the_rest_is_the_palettes(colorizer):
  sketch, at = drawing()
  dots = _dot_in_circle(at)
  plain = np.asarray(colorizer(sketch, palette=PALETTE))
  filled = np.asarray(colorizer(sketch, palette=PALETTE, points=dots))
  r = regions_lib.segment(sketch)
  circle = (r.labels == label_at(r, at["circle"])) & ~r.ink
  # The network coloured from the palette alone: outside the circle nothing moved.
  np.testing.assert_array_equal(filled[~circle], plain[~circle])
  hue = np.median(_lab(filled[circle])[:, 1:], axis=0)
  np.testing.assert_allclose(hue, _lab((10, 200, 90))[1:], atol=2.0)
  # dots="model": the network reads the dots, and nothing is filled afterwards.
  model_mode = infer.Colorizer(colorizer.config, colorizer.params, dots="model")
  hinted = np.asarray(model_mode(sketch, palette=PALETTE, points=dots))
  assert not np.array_equal(hinted[~circle], plain[~circle])
  assert np.abs(np.median(_lab(hinted[circle])[:, 1:], axis=0) - hue).max() > 5


def test_dots_alone_reach_the_network_and_then_fill_their_region(colorizer):
  sketch, at = drawing()
  dots = _dot_in_circle(at)
  filled = np.asarray(colorizer(sketch, points=dots))
  hinted = np.asarray(infer.Colorizer(colorizer.config, colorizer.params,
                                      dots="model")(sketch, points=dots))
  r = regions_lib.segment(sketch)
  circle = (r.labels == label_at(r, at["circle"])) & ~r.ink
  np.testing.assert_array_equal(filled[~circle], hinted[~circle])
  assert not np.array_equal(filled[circle], hinted[circle])


def test_without_closed_regions_the_network_reads_the_dots(colorizer):
  dots = np.zeros((128, 128, 4), np.uint8)
  dots[60:64, 20:24] = (200, 30, 30, 255)
  hinted = infer.Colorizer(colorizer.config, colorizer.params, dots="model")
  np.testing.assert_array_equal(np.asarray(colorizer(scribble(), palette=PALETTE, points=dots)),
                                np.asarray(hinted(scribble(), palette=PALETTE, points=dots)))


def test_an_unknown_dots_mode_is_one_error(colorizer):
  with pytest.raises(UserError, match="unknown dots mode 'paint'"):
    infer.Colorizer(colorizer.config, colorizer.params, dots="paint")
  assert _colorize_args(["s.png", "--palette", PALETTE]).dots == "fill"
  args = _colorize_args(["s.png", "--model", "palette", "--dots", "model"])
  assert infer.Colorizer.from_args(args).dots == "model"


def test_no_closed_regions_gives_the_plain_result_and_a_warning(colorizer):
  with pytest.warns(infer.FlatsUnavailable, match="enclose no region"):
    flat = colorizer(scribble(), palette=PALETTE, flat=True)
  np.testing.assert_array_equal(np.asarray(flat),
                                np.asarray(colorizer(scribble(), palette=PALETTE)))
  with pytest.raises(UserError, match="enclose no region"):
    colorizer.layers(scribble(), palette=PALETTE)


def test_layers_from_the_api(colorizer, tmp_path):
  sketch, _ = drawing()
  lay = colorizer.layers(sketch, palette=PALETTE)
  np.testing.assert_array_equal(lay.composite,
                                np.asarray(colorizer(sketch, palette=PALETTE, flat=True)))
  lay.save_pngs(tmp_path / "layers")
  assert len(list((tmp_path / "layers").glob("*.png"))) == 4
  pytest.importorskip("psd_tools")
  lay.save_psd(tmp_path / "x.psd")
  assert (tmp_path / "x.psd").read_bytes()[:4] == b"8BPS"


# --------------------------------------------------------------------------- CLI


def _colorize_args(argv):
  return cli.parse_args(["colorize", *argv])[0]


def _errors(err):
  return [line for line in err.splitlines() if line.startswith("error: ")]


def test_cli_flat_and_layers(colorizer, tmp_path, capsys):
  pytest.importorskip("psd_tools")
  sketch, _ = drawing()
  Image.fromarray(sketch).save(tmp_path / "s.png")
  out = tmp_path / "out"
  args = _colorize_args([str(tmp_path / "s.png"), "--palette", PALETTE, "--out", str(out),
                         "--flat", "--layers"])
  assert infer.run_colorize(args, colorizer=colorizer) == 0
  assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
      "s_color.png", "s_color.psd", "s_color_layers", "s_color_layers/1_paper.png",
      "s_color_layers/2_flats.png", "s_color_layers/3_shading.png",
      "s_color_layers/4_line_art.png"]
  np.testing.assert_array_equal(np.asarray(Image.open(out / "s_color.png")),
                                np.asarray(colorizer(sketch, palette=PALETTE, flat=True)))
  assert capsys.readouterr().err == ""
  # --layers-dir elsewhere, and without --flat the PNG is the plain result.
  args = _colorize_args([str(tmp_path / "s.png"), "--palette", PALETTE, "--out", str(out),
                         "--layers-dir", str(tmp_path / "psd")])
  assert infer.run_colorize(args, colorizer=colorizer) == 0
  assert (tmp_path / "psd" / "s_color.psd").exists()
  np.testing.assert_array_equal(np.asarray(Image.open(out / "s_color.png")),
                                np.asarray(colorizer(sketch, palette=PALETTE)))


def test_cli_unwritable_layers_dir_is_one_error_and_the_png_is_written(colorizer, tmp_path,
                                                                         capsys):
  sketch, _ = drawing()
  Image.fromarray(sketch).save(tmp_path / "s.png")
  (tmp_path / "a_file").write_text("not a folder")
  out = tmp_path / "out"
  args = _colorize_args([str(tmp_path / "s.png"), "--palette", PALETTE, "--out", str(out),
                         "--flat", "--layers-dir", str(tmp_path / "a_file" / "layers")])
  assert infer.run_colorize(args, colorizer=colorizer) == 2
  err = capsys.readouterr().err
  assert len(_errors(err)) == 1 and "--layers-dir" in _errors(err)[0], err
  assert len(err.strip().splitlines()) == 1
  assert sorted(p.name for p in out.iterdir()) == ["s_color.png"]
  # A layers folder that cannot be made beside the PNG: the same.
  (out / "s_color_layers").write_text("in the way")
  args = _colorize_args([str(tmp_path / "s.png"), "--palette", PALETTE, "--out", str(out),
                         "--layers"])
  assert infer.run_colorize(args, colorizer=colorizer) == 2
  err = capsys.readouterr().err
  assert len(_errors(err)) == 1 and "s_color.png" in _errors(err)[0], err
  assert (out / "s_color.png").exists() and not (out / "s_color.psd").exists()


def test_cli_no_closed_regions_is_one_warning(colorizer, tmp_path, capsys):
  Image.fromarray(scribble()).save(tmp_path / "scribble.png")
  out = tmp_path / "out"
  args = _colorize_args([str(tmp_path / "scribble.png"), "--palette", PALETTE, "--out",
                         str(out), "--flat", "--layers"])
  assert infer.run_colorize(args, colorizer=colorizer) == 0
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and err[0].startswith("warning: ") and "plain result" in err[0]
  assert sorted(p.name for p in out.iterdir()) == ["scribble_color.png"]
  with warnings.catch_warnings():
    warnings.simplefilter("ignore", infer.FlatsUnavailable)
    np.testing.assert_array_equal(np.asarray(Image.open(out / "scribble_color.png")),
                                  np.asarray(colorizer(scribble(), palette=PALETTE)))


# --------------------------------------------------------------------------- clean outputs


def stray_pixels(rgb, corner=24):
  """Strongly coloured pixels in the top-right corner (where the paper is white)."""
  block = rgb[:corner, -corner:].astype(int)
  return int((np.abs(block - block.mean(-1, keepdims=True)).sum(-1) > 30).sum())


@pytest.fixture(scope="module")
def starter():
  # The palette starter is the model whose raw output has the corner spike.
  return infer.Colorizer.from_checkpoint(model="palette")


def test_starter_results_have_a_clean_corner_and_white_paper(starter):
  _, sketch_path, ref_path = demo.bundled_pairs()[1]
  sketch = infer.load_sketch(sketch_path)
  colors = starter.hint_colors(reference=ref_path)
  # The bare forward pass (what every result held before) has the corner spike ...
  raw = starter.colorize_batch((sketch[None, ..., None] / 127.5 - 1.0).astype(np.float32),
                               (colors[None] / 127.5 - 1.0).astype(np.float32))
  raw = np.clip(np.rint((raw[0] + 1.0) * 127.5), 0, 255).astype(np.uint8)
  assert stray_pixels(raw) > 10
  # ... the results have none, and their paper is white.
  result = np.asarray(starter(sketch_path, reference=ref_path))
  assert stray_pixels(result) == 0
  r = regions_lib.segment(sketch)
  paper = r.border[r.labels] & (sketch == 255)
  white = lambda rgb: (rgb[paper] == 255).all(-1).mean()
  assert white(raw) < 0.05 and white(result) > 0.95  # measured 0.008 and 1.0


def test_bench_regions_reports_a_median_per_sketch_kind(capsys):
  from jaxcolor import bench  # pylint: disable=g-import-not-at-top
  r = bench.bench_regions(size=128, repeats=1)
  assert r["what"] == "regions" and r["resolution"] == 128 and r["median_s"] > 0
  assert len(r["results"]) == 3
  for x in r["results"].values():
    assert x["median_s"] > 0 and x["cpu_median_s"] >= 0 and x["regions"] >= 1
  bench._print_regions(r)  # pylint: disable=protected-access
  assert "median over the sketches" in capsys.readouterr().out
  assert "regions" in cli.build_parser().parse_args(["bench", "--what", "regions"]).what
