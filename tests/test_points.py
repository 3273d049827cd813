"""Colour points: the planes, their sampling in training, the model input, the CLI."""


import numpy as np
import pytest
from PIL import Image

from conftest import config_module
from jaxcolor import cli
from jaxcolor import hints
from jaxcolor import infer
from jaxcolor import models
from jaxcolor.errors import UserError

tiny = config_module("tiny")

SIZE = 64


def test_points_from_rgba_resizes_nearest_and_masks():
  rgba = np.zeros((8, 8, 4), np.uint8)
  rgba[2:4, 2:4] = (255, 0, 0, 255)
  rgba[6, 6] = (0, 255, 0, 100)  # below the alpha threshold: not a point
  planes, count = hints.points_from_rgba(rgba, 16, 16)
  assert planes.shape == (16, 16, 4) and count == 16  # 2x2 -> 4x4 pixels
  np.testing.assert_array_equal(planes[4:8, 4:8, 3], 1.0)
  np.testing.assert_allclose(planes[5, 5, :3], [1.0, -1.0, -1.0])
  assert planes[..., 3].sum() == 16 and not planes[12:, 12:].any()
  with pytest.raises(UserError, match="RGBA"):
    hints.points_from_rgba(np.zeros((4, 4, 3), np.uint8), 4, 4)


def test_points_rgba_gives_back_the_dots_the_planes_came_from():
  rgba = np.zeros((8, 8, 4), np.uint8)
  rgba[1:3, 5:7] = (250, 20, 130, 255)
  planes, _ = hints.points_from_rgba(rgba, 8, 8)
  back = hints.points_rgba(planes)
  np.testing.assert_array_equal(back[..., 3], rgba[..., 3])
  np.testing.assert_array_equal(back[1:3, 5:7], rgba[1:3, 5:7])


def test_draw_points_uses_ground_truth_colours():
  color = np.full((32, 32, 3), 255, np.uint8)
  color[8:24, 8:24] = (10, 200, 30)
  planes = hints.draw_points(color, np.random.default_rng(0), 6)
  mask = planes[..., 3] > 0
  assert mask.any()
  seen = {tuple(np.round(c, 3)) for c in planes[mask][:, :3]}
  allowed = {tuple(np.round(np.asarray(c, np.float32) / 127.5 - 1.0, 3))
             for c in ((10, 200, 30), (255, 255, 255))}
  assert seen <= allowed
  assert not hints.draw_points(color, np.random.default_rng(0), 0).any()


def test_random_point_count_has_empty_share():
  rng = np.random.default_rng(1)
  counts = np.array([hints.random_point_count(rng, 16, 0.35) for _ in range(2000)])
  assert 0.3 < np.mean(counts == 0) < 0.4
  assert counts.max() <= 16 and np.mean(counts[counts > 0] <= 4) > 0.4  # skewed to few
  assert hints.random_point_count(rng, 0, 0.0) == 0


def _points_config(family="palette"):
  c = tiny.get_config(family)
  c.model.points = True
  c.model.input_skip = family == "palette"
  return c


@pytest.mark.parametrize("family", ["palette", "histogram"])
def test_both_families_take_point_planes(family):
  c = _points_config(family)
  params = models.init_generator(c.model, 0, SIZE)
  colorizer = infer.Colorizer(c, params)
  assert colorizer.takes_points
  sketch = np.full((1, SIZE, SIZE, 1), 1.0, np.float32)
  hint = np.zeros((1,) + hints.HINT_SHAPES[c.model.hint], np.float32)
  pts = np.zeros((1, SIZE, SIZE, 4), np.float32)
  pts[0, 10:14, 10:14] = (1.0, -1.0, -1.0, 1.0)
  base = colorizer.colorize_batch(sketch, hint)
  with_pts = colorizer.colorize_batch(sketch, hint, points=pts)
  assert base.shape == with_pts.shape == (1, SIZE, SIZE, 3)
  assert not np.array_equal(base, with_pts)  # the planes reach the network
  np.testing.assert_array_equal(base, colorizer.colorize_batch(sketch, hint, points=pts * 0))


def test_model_without_points_refuses_them():
  c = tiny.get_config("palette")
  colorizer = infer.Colorizer(c, models.init_generator(c.model, 0, SIZE))
  rgba = np.zeros((SIZE, SIZE, 4), np.uint8)
  with pytest.raises(UserError, match="no colour points"):
    colorizer(np.full((SIZE, SIZE), 255, np.uint8), palette="#ff0000", points=rgba)


def test_points_alone_give_the_palette():
  c = _points_config()
  colorizer = infer.Colorizer(c, models.init_generator(c.model, 0, SIZE))
  rgba = np.zeros((SIZE, SIZE, 4), np.uint8)
  rgba[:4, :4] = (200, 10, 10, 255)
  rgba[40:42, 40:42] = (10, 10, 200, 255)
  colors = colorizer.hint_colors(points=rgba)
  assert {tuple(c) for c in colors} == {(200, 10, 10), (10, 10, 200)}
  out = colorizer(np.full((SIZE, SIZE), 255, np.uint8), points=rgba)
  assert out.size == (SIZE, SIZE)


@pytest.fixture(scope="module")
def points_colorizer():
  c = _points_config()
  return infer.Colorizer(c, models.init_generator(c.model, 0, SIZE))


def _colorize_args(tmp_path, *extra):
  return cli.parse_args(["colorize", *extra, "--out", str(tmp_path / "out")])[0]


def _sketch_files(tmp_path, n=2, size=SIZE):
  paths = []
  for i in range(n):
    p = tmp_path / f"s{i}.png"
    Image.fromarray(np.full((size, size), 255, np.uint8)).save(p)
    paths.append(str(p))
  return paths


def test_cli_points_resized_with_a_line(points_colorizer, tmp_path, capsys):
  sketches = _sketch_files(tmp_path)
  hint = tmp_path / "hints.png"
  rgba = np.zeros((16, 16, 4), np.uint8)
  rgba[4:6, 4:6] = (255, 0, 0, 255)
  Image.fromarray(rgba, "RGBA").save(hint)
  args = _colorize_args(tmp_path, *sketches, "--palette", "#00ff00", "--points", str(hint))
  assert infer.run_colorize(args, colorizer=points_colorizer) == 0
  err = capsys.readouterr().err
  assert err.count("resized (nearest)") == 2 and "16x16" in err
  assert (tmp_path / "out" / "s0_color.png").exists()


def test_cli_points_without_opaque_pixel_warns(points_colorizer, tmp_path, capsys):
  sketches = _sketch_files(tmp_path, 1)
  hint = tmp_path / "empty.png"
  Image.fromarray(np.zeros((SIZE, SIZE, 4), np.uint8), "RGBA").save(hint)
  args = _colorize_args(tmp_path, *sketches, "--palette", "#00ff00", "--points", str(hint))
  assert infer.run_colorize(args, colorizer=points_colorizer) == 0
  err = capsys.readouterr().err
  assert "warning:" in err and "no opaque pixel" in err and len(err.strip().splitlines()) == 1
  # Alone, an empty points image leaves nothing to colour with: a one-line user error.
  args = _colorize_args(tmp_path, *sketches, "--points", str(hint))
  with pytest.raises(UserError, match="no opaque pixel"):
    infer.run_colorize(args, colorizer=points_colorizer)


def test_cli_unreadable_points_exit_2_and_batch_finishes(points_colorizer, tmp_path, capsys):
  sketches = _sketch_files(tmp_path)
  bad = tmp_path / "hints.png"
  bad.write_bytes(b"not a png")
  args = _colorize_args(tmp_path, *sketches, "--palette", "#00ff00", "--points", str(bad))
  assert infer.run_colorize(args, colorizer=points_colorizer) == 2
  errors = [l for l in capsys.readouterr().err.splitlines() if "error" in l]
  assert len(errors) == 1 and errors[0].startswith("error:") and "hints.png" in errors[0]
  assert all((tmp_path / "out" / f"s{i}_color.png").exists() for i in range(2))


def test_train_transform_draws_points_and_jitters_target():
  from jaxcolor.data import pipeline  # pylint: disable=g-import-not-at-top
  color = np.full((96, 96, 3), 255, np.uint8)
  color[20:70, 20:70] = (30, 120, 220)
  color[40:90, 50:90] = (230, 90, 40)
  sketch = np.full((96, 96, 1), 255, np.uint8)
  sketch[20, 20:70] = 0
  element = {"image": color, "sketch": sketch}
  kwargs = dict(seed=3, image_size=SIZE, hint="palette", crop_scale=(0.9, 1.0),
                augment_sketch=False, augment_reference=True)
  plain = pipeline._TrainTransform(**kwargs)  # pylint: disable=protected-access
  full = pipeline._TrainTransform(  # pylint: disable=protected-access
      **kwargs, jitter_target=True, xdog_prob=1.0,
      points={"max_points": 8, "none_prob": 0.0})
  a = plain.random_map(element, np.random.default_rng(0))
  b = full.random_map(element, np.random.default_rng(0))
  assert "points" not in a and b["points"].shape == (SIZE, SIZE, 4)
  assert b["points"][..., 3].sum() > 0
  # Each dot carries the colour of the (jittered) target under it.
  ys, xs = np.nonzero(b["points"][..., 3])
  np.testing.assert_allclose(b["points"][ys[0], xs[0], :3], b["image"][ys[0], xs[0]], atol=2e-2)
  assert not np.array_equal(a["image"], b["image"])  # the target shares the jitter
  assert not np.array_equal(a["sketch"], b["sketch"])  # XDoG lines replaced the drawn ones
  # Options off: the same draws as before (the stream does not move).
  again = plain.random_map(element, np.random.default_rng(0))
  for k in a:
    np.testing.assert_array_equal(a[k], again[k])


def test_eval_batches_carry_fixed_points(synthetic_data_dir):
  from conftest import micro_config  # pylint: disable=g-import-not-at-top
  from jaxcolor.data import pipeline  # pylint: disable=g-import-not-at-top
  c = micro_config(synthetic_data_dir)
  c.model.points = True
  kwargs = dict(data_dir=synthetic_data_dir, num_examples=4, local_device_count=1)
  none = pipeline.make_eval_batches(c, **kwargs)
  five = pipeline.make_eval_batches(c, num_points=5, **kwargs)
  assert not none[0]["points"].any()
  assert five[0]["points"][..., 3].sum() > 0
  np.testing.assert_array_equal(
      five[0]["points"], pipeline.make_eval_batches(c, num_points=5, **kwargs)[0]["points"])
  with pytest.raises(UserError, match="max_points"):
    c.model.points = False
    c.data.max_points = 4
    pipeline.check_augment_options(c)


def test_points_at_sizes_off_the_stride(points_colorizer):
  sketch = np.full((1, 70, 90, 1), 1.0, np.float32)
  hint = np.zeros((1, 9, 3), np.float32)
  pts = np.zeros((1, 70, 90, 4), np.float32)
  pts[0, 60:66, 80:86] = (1.0, -1.0, -1.0, 1.0)
  out = points_colorizer.colorize_batch(sketch, hint, points=pts)
  assert out.shape == (1, 70, 90, 3)
  with pytest.raises(UserError, match="colour point planes"):
    points_colorizer.colorize_batch(sketch, hint, points=pts[:, :64])


def test_shrunk_points_keep_every_dot():
  rgba = np.zeros((400, 400, 4), np.uint8)
  rgba[100, 100] = (255, 0, 0, 255)  # one pixel: smaller than the 8x shrink
  rgba[300:302, 200:202] = (0, 0, 255, 255)
  planes, count = hints.points_from_rgba(rgba, 50, 50)
  assert count == 2
  np.testing.assert_allclose(planes[12, 12], [1.0, -1.0, -1.0, 1.0])
  np.testing.assert_allclose(planes[37, 25], [-1.0, -1.0, 1.0, 1.0])
