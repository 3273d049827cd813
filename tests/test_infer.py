"""Colorizer on a tiny random model (configs/tiny.py), and the colorize / palette commands.

Params are the tiny model's initial parameters: random weights are all these tests need.
"""


import jax
import numpy as np
import pytest
from PIL import Image

from conftest import config_module
from jaxcolor import cli
from jaxcolor import hints
from jaxcolor import infer
from jaxcolor import models
from jaxcolor.data import images
from jaxcolor.errors import UserError

tiny = config_module("tiny")


def random_params(model_config, size=64, seed=0, noise_weight=0.0):
  """Initial generator params; noise weights set to `noise_weight` so noise matters."""
  params = models.init_generator(model_config, seed, size)
  return jax.tree_util.tree_map_with_path(
      lambda path, v: np.full_like(v, noise_weight) if path[-1].key == "weight" else v, params)


def make_sketch(h, w, seed=0):
  """uint8 line art: white paper with a few dark random lines and a box."""
  rng = np.random.default_rng(seed)
  img = np.full((h, w), 255, np.uint8)
  for _ in range(6):
    if rng.random() < 0.5:
      img[rng.integers(0, h), :] = 0
    else:
      img[:, rng.integers(0, w)] = 0
  img[h // 4:h // 4 + 2, w // 4:3 * w // 4] = 20
  return img


def make_reference(h=48, w=40, seed=1):
  rng = np.random.default_rng(seed)
  blocks = rng.integers(0, 256, (4, 4, 3)).astype(np.uint8)
  return np.asarray(Image.fromarray(blocks).resize((w, h), Image.Resampling.NEAREST))


@pytest.fixture(scope="module")
def config():
  return tiny.get_config("palette")


@pytest.fixture(scope="module")
def colorizer(config):
  # Non-zero noise weights (a fresh init has zeros) so that seeds make a difference; one
  # instance for all tests, so that each padded shape compiles once.
  return infer.Colorizer(config, random_params(config.model, noise_weight=0.5))


@pytest.fixture(scope="module")
def histogram_colorizer():
  cfg = tiny.get_config("histogram")
  # Only hint handling is tested here: no forward pass, so no compile.
  return infer.Colorizer(cfg, random_params(cfg.model))


# --------------------------------------------------------------------------- Colorizer


def test_odd_size_comes_back_at_its_own_size(colorizer):
  # 401x299 would work at its own size (see test_working_size), padded to 416x320; a
  # smaller working size keeps the test to the 64x64 executable the other tests compile.
  sketch = make_sketch(401, 299)
  img = colorizer(sketch, reference=make_reference(), size=64)
  assert isinstance(img, Image.Image) and img.mode == "RGB"
  assert img.size == (299, 401)
  # Padded (50x37 -> 64x64) and cropped back.
  assert colorizer(make_sketch(50, 37), reference=make_reference()).size == (37, 50)


def test_compiles_once_per_padded_shape(colorizer):
  ref = make_reference()
  colorizer(make_sketch(50, 40), reference=ref)
  before = len(colorizer._compiled)
  colorizer(make_sketch(60, 33), reference=ref)  # pads to the same 64x64 bucket
  colorizer(make_sketch(64, 64), reference=ref)
  assert len(colorizer._compiled) == before


def test_working_size():
  assert infer.working_size(401, 299) == (401, 299)
  assert infer.working_size(3000, 1500) == (1024, 512)
  assert infer.working_size(3000, 1500, max_side=2000) == (2000, 1000)
  assert infer.working_size(100, 50, size=64) == (64, 32)
  # A model's working side caps the default, not an explicit size, and never enlarges.
  assert infer.working_size(1024, 512, work_side=192) == (192, 96)
  assert infer.working_size(150, 100, work_side=192) == (150, 100)
  assert infer.working_size(1024, 512, size=512, work_side=192) == (512, 256)
  assert infer.working_size(3000, 1500, max_side=128, work_side=192) == (128, 64)


def test_a_large_sketch_is_coloured_at_the_work_side_under_its_own_lines(config, monkeypatch):
  cfg = config.copy_and_resolve_references()
  cfg.model.work_side = 64
  small = infer.Colorizer(cfg, random_params(cfg.model, noise_weight=0.5))
  seen = []
  forward = small.colorize_batch
  monkeypatch.setattr(small, "colorize_batch",
                      lambda x, *a, **k: seen.append(x.shape) or forward(x, *a, **k))
  sketch = np.full((256, 192), 255, np.uint8)
  sketch[40:216, 40] = sketch[40:216, 150] = sketch[40, 40:151] = sketch[215, 40:151] = 0
  sketch[120, 40:151] = 0
  out = np.asarray(small(sketch, reference=make_reference()))
  assert seen == [(1, 64, 48, 1)]
  assert out.shape == (256, 192, 3)
  # The lines are the large sketch's, one pixel wide and black, not a blurred enlargement.
  np.testing.assert_array_equal(out[sketch == 0], 0)
  assert (out[60:100, 60:130] > 0).all()
  # Above max_side the lines come back on a max_side canvas, then plainly enlarged: the
  # cost of the region split stays that of a max_side picture.
  small.max_side = 128
  calls = []
  under_lines = infer.upscale.under_lines
  monkeypatch.setattr(infer.upscale, "under_lines",
                      lambda *a: calls.append(a[2].shape) or under_lines(*a))
  assert small(sketch, reference=make_reference()).size == (192, 256)
  assert seen[-1] == (1, 64, 48, 1) and calls == [(128, 96)]


def test_sketch_forms(colorizer, tmp_path):
  sketch = make_sketch(48, 40)
  ref = make_reference()
  # RGBA: dark lines on transparent paper; alpha goes onto white.
  rgba = np.zeros((48, 40, 4), np.uint8)
  rgba[..., 3] = 255 - sketch
  np.testing.assert_array_equal(infer.load_sketch(rgba), sketch)
  # White on black is inverted.
  np.testing.assert_array_equal(infer.load_sketch(255 - sketch), sketch)
  rgb = np.repeat(sketch[..., None], 3, axis=-1)
  np.testing.assert_array_equal(infer.load_sketch(rgb), sketch)
  # A scan on grey paper is read with white paper, as the sketch on white.
  grey = np.rint(sketch * (210 / 255)).astype(np.uint8)
  assert np.abs(infer.load_sketch(grey).astype(int) - sketch).max() <= 1
  path = tmp_path / "s.png"
  Image.fromarray(rgba, "RGBA").save(path)
  expected = np.asarray(colorizer(sketch, reference=ref))
  for form in (rgba, 255 - sketch, rgb, Image.fromarray(rgba, "RGBA"), str(path)):
    np.testing.assert_array_equal(np.asarray(colorizer(form, reference=ref)), expected)
  assert infer.load_sketch(sketch, cleanup=True).shape == sketch.shape


def test_palette_and_reference(colorizer, tmp_path):
  sketch = make_sketch(48, 40)
  ref = make_reference()
  ref_path = tmp_path / "ref.png"
  Image.fromarray(ref).save(ref_path)
  by_ref = colorizer(sketch, reference=ref)
  np.testing.assert_array_equal(np.asarray(colorizer(sketch, reference=str(ref_path))),
                                np.asarray(by_ref))
  by_palette = colorizer(sketch, palette="#ff0000, #00ff00, #0000ff")
  by_list = colorizer(sketch, palette=["#0000ff", "#ff0000", "#0f0"])
  assert by_palette.size == by_ref.size == (40, 48)
  # Palettes are put in training order, so token order does not matter.
  np.testing.assert_array_equal(np.asarray(by_palette), np.asarray(by_list))


def test_palette_from_text_is_sorted_and_cycled():
  colors = hints.palette_from_text("#ffffff,#000")
  assert colors.shape == (9, 3)
  np.testing.assert_array_equal(colors[0], [0, 0, 0])
  np.testing.assert_array_equal(colors[1], [255, 255, 255])
  np.testing.assert_array_equal(colors[2], [0, 0, 0])


def test_seed_none_is_deterministic(colorizer):
  sketch, ref = make_sketch(48, 40), make_reference()
  a = np.asarray(colorizer(sketch, reference=ref))
  b = np.asarray(colorizer(sketch, reference=ref))
  np.testing.assert_array_equal(a, b)


def test_variations(colorizer):
  sketch, ref = make_sketch(48, 40), make_reference()
  outs = colorizer.variations(sketch, reference=ref, k=3, seed=5)
  assert len(outs) == 3
  arrays = [np.asarray(o, np.int32) for o in outs]
  assert np.abs(arrays[0] - arrays[1]).max() > 0
  assert np.abs(arrays[1] - arrays[2]).max() > 0
  # Variation i is the image of seed 5 + i.
  np.testing.assert_array_equal(np.asarray(colorizer(sketch, reference=ref, seed=6)),
                                arrays[1])


def test_exactly_one_hint_source(colorizer):
  sketch = make_sketch(48, 40)
  with pytest.raises(UserError, match="exactly one"):
    colorizer(sketch)
  with pytest.raises(UserError, match="exactly one"):
    colorizer(sketch, reference=make_reference(), palette="#fff")


def test_bad_hex_names_the_token(colorizer):
  with pytest.raises(UserError, match="zz1122"):
    colorizer(make_sketch(48, 40), palette="#ff0000,#zz1122")


def test_histogram_family(histogram_colorizer):
  with pytest.raises(UserError, match="reference"):
    histogram_colorizer(make_sketch(48, 40), palette="#ff0000")
  with pytest.raises(UserError, match="no noise"):
    histogram_colorizer.variations(make_sketch(48, 40), reference=make_reference(), k=2)
  colors = histogram_colorizer.hint_colors(reference=make_reference())
  assert colors.shape == (4, 4, 3) and colors.dtype == np.uint8


def test_bad_sketch_file(colorizer, tmp_path):
  bad = tmp_path / "bad.png"
  bad.write_bytes(b"not a png")
  with pytest.raises(UserError, match="bad.png"):
    colorizer(str(bad), reference=make_reference())


def test_from_checkpoint(config, tmp_path):
  import orbax.checkpoint as ocp  # pylint: disable=import-outside-toplevel

  from jaxcolor import config_utils  # pylint: disable=import-outside-toplevel

  params = random_params(config.model, seed=3)
  (tmp_path / "config.json").write_text(config_utils.to_json(config))
  # A generator-only checkpoint, which is all that load_generator restores.
  manager = ocp.CheckpointManager(tmp_path / "checkpoints", item_names=("generator",))
  manager.save(5, args=ocp.args.Composite(generator=ocp.args.StandardSave(params)))
  manager.wait_until_finished()
  manager.close()
  for path in (tmp_path, tmp_path / "checkpoints" / "5"):
    loaded = infer.Colorizer.from_checkpoint(path)
    assert loaded.step == 5 and loaded.kind == "palette"
    for a, b in zip(jax.tree.leaves(loaded.params), jax.tree.leaves(params)):
      np.testing.assert_array_equal(a, b)
  with pytest.raises(UserError):
    infer.Colorizer.from_checkpoint(tmp_path / "missing")
  # Shapes come from the checkpoint; a config.json for another model is caught
  # when the generator first runs, as one clear error.
  other = config.copy_and_resolve_references()
  other.model.widths = tuple(2 * w for w in config.model.widths)
  (tmp_path / "config.json").write_text(config_utils.to_json(other))
  mismatched = infer.Colorizer.from_checkpoint(tmp_path)
  with pytest.raises(UserError, match="does not fit the palette generator"):
    mismatched(make_sketch(40, 48), palette="#ff0000")
  Image.fromarray(make_sketch(40, 48)).save(tmp_path / "s.png")
  args = _colorize_args([str(tmp_path / "s.png"), "--palette", "#ff0000", "--checkpoint",
                         "unused", "--out", str(tmp_path / "out")])
  with pytest.raises(infer.ParamsMismatch):  # stops the command, not skipped as a bad file
    infer.run_colorize(args, colorizer=mismatched)


# --------------------------------------------------------------------------- CLI


def _colorize_args(argv):
  return cli.parse_args(["colorize", *argv])[0]


def test_cli_batch_folder_with_corrupt_file(colorizer, tmp_path, capsys):
  src = tmp_path / "in"
  (src / "sub").mkdir(parents=True)
  Image.fromarray(make_sketch(48, 40, 1)).save(src / "a.png")
  Image.fromarray(make_sketch(40, 48, 2)).save(src / "sub" / "b.jpg")
  (src / "c.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
  Image.fromarray(make_reference()).save(tmp_path / "ref.png")
  # Results of an earlier run inside the input folder are not taken as sketches.
  out = src / "colorized"
  out.mkdir()
  Image.fromarray(make_sketch(48, 40, 3)).save(out / "old_color.png")
  args = _colorize_args([str(src), "--reference", str(tmp_path / "ref.png"),
                         "--checkpoint", "unused", "--out", str(out)])
  assert infer.run_colorize(args, colorizer=colorizer) == 1
  assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == [
      "a_color.png", "old_color.png", "sub/b_color.png"]
  assert images.load_rgb(out / "a_color.png").shape == (48, 40, 3)
  err = capsys.readouterr().err
  lines = [l for l in err.splitlines() if l.startswith("skipped")]
  assert len(lines) == 1 and "c.png" in lines[0]


def test_cli_variations_and_palette(colorizer, tmp_path):
  Image.fromarray(make_sketch(48, 40)).save(tmp_path / "s.png")
  out = tmp_path / "out"
  args = _colorize_args([str(tmp_path / "s.png"), "--palette", "#f5d6c6,#2b2b40",
                         "--checkpoint", "unused", "--out", str(out), "--variations", "2",
                         "--seed", "3"])
  assert infer.run_colorize(args, colorizer=colorizer) == 0
  assert sorted(p.name for p in out.iterdir()) == ["s_color_v0.png", "s_color_v1.png"]


def test_cli_refuses_to_overwrite_an_input(colorizer, tmp_path):
  folder = tmp_path / "in"
  folder.mkdir()
  Image.fromarray(make_sketch(48, 40)).save(folder / "x.png")
  Image.fromarray(make_sketch(48, 40)).save(folder / "x_color.png")
  before = (folder / "x_color.png").read_bytes()
  args = _colorize_args([str(folder), "--palette", "#fff", "--checkpoint", "unused",
                         "--out", str(folder)])
  with pytest.raises(UserError, match="overwrite input"):
    infer.run_colorize(args, colorizer=colorizer)
  assert (folder / "x_color.png").read_bytes() == before


def test_cli_usage_errors(colorizer, tmp_path):
  Image.fromarray(make_sketch(48, 40)).save(tmp_path / "s.png")
  args = _colorize_args([str(tmp_path / "s.png"), "--palette", "#fff", "--checkpoint", "x",
                         "--variations", "0"])
  with pytest.raises(UserError, match="variations"):
    infer.run_colorize(args, colorizer=colorizer)
  # Neither a reference, a palette nor points: one line naming the three.
  args = _colorize_args([str(tmp_path / "s.png"), "--checkpoint", "x"])
  with pytest.raises(UserError, match="--reference IMAGE, --palette HEX or --points"):
    infer.run_colorize(args, colorizer=colorizer)


def _palette_args(argv):
  return cli.parse_args(["palette", *argv])[0]


def test_palette_command(tmp_path, capsys):
  Image.fromarray(make_reference(64, 64)).save(tmp_path / "ref.png")
  swatch = tmp_path / "swatch.png"
  assert infer.run_palette(_palette_args([str(tmp_path / "ref.png"), "--out",
                                          str(swatch)])) == 0
  lines = capsys.readouterr().out.strip().splitlines()
  assert len(lines) == 1 and len(lines[0].split(",")) == 9
  # Directly usable with --palette.
  assert hints.palette_from_text(lines[0]).shape == (9, 3)
  assert Image.open(swatch).size == (9 * 32, 32)

  assert infer.run_palette(_palette_args([str(tmp_path / "ref.png"), "--kind", "histogram",
                                          "--out", str(swatch)])) == 0
  lines = capsys.readouterr().out.strip().splitlines()
  assert len(lines) == 4 and all(len(l.split(",")) == 4 for l in lines)
  assert Image.open(swatch).size == (4 * 32, 4 * 32)
  with pytest.raises(UserError, match="palette only"):
    infer.run_palette(_palette_args([str(tmp_path / "ref.png"), "--kind", "histogram",
                                     "--lab"]))
  with pytest.raises(UserError, match="overwrite"):
    infer.run_palette(_palette_args([str(tmp_path / "ref.png"), "--out",
                                     str(tmp_path / "ref.png")]))
