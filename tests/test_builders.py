"""TFDS builders: Kaggle layout, image folder, synthetic cels; written and read without TF."""

import json
import logging
import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
from PIL import Image
import pytest

from jaxcolor import cli
from jaxcolor.data import builders
from jaxcolor.data import images
from jaxcolor.data import synthetic
from jaxcolor.errors import UserError

KAGGLE = "anime_sketch_colorization_pair"


def _pattern(seed, h, w, gray=False):
  """A smooth, compressible, seed-specific uint8 image."""
  rng = np.random.default_rng(seed)
  yy, xx = np.mgrid[0:h, 0:w]
  chans = []
  for _ in range(1 if gray else 3):
    fy, fx, ph = rng.uniform(0.005, 0.05), rng.uniform(0.005, 0.05), rng.uniform(0, 6)
    chans.append(127.5 + 127.5 * np.sin(fy * yy + fx * xx + ph))
  img = np.stack(chans, -1).round().astype(np.uint8)
  return img[..., 0] if gray else img


def _write_pair(path, seed):
  color = _pattern(seed, 512, 512)
  sketch = _pattern(seed + 1000, 512, 512, gray=True)
  canvas = np.concatenate([color, np.repeat(sketch[..., None], 3, -1)], axis=1)
  Image.fromarray(canvas).save(path)
  return color, sketch


@pytest.fixture(scope="module")
def kaggle(tmp_path_factory):
  """A manual folder in the Kaggle layout (under data/), with two bad files."""
  root = tmp_path_factory.mktemp("kaggle")
  written = {}
  for split, seeds in (("train", (1, 2, 3)), ("val", (4, 5))):
    d = root / "data" / split
    d.mkdir(parents=True)
    for s in seeds:
      written[f"{split}/{s:03d}.png"] = _write_pair(d / f"{s:03d}.png", s)
  (root / "data/train/corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
  Image.fromarray(_pattern(9, 512, 512)).save(root / "data/val/small.png")
  return root, written


@pytest.fixture(scope="module")
def kaggle_built(kaggle, tmp_path_factory):
  root, written = kaggle
  data_dir = tmp_path_factory.mktemp("tfds")
  records = []
  handler = logging.Handler()
  handler.emit = records.append
  logger = logging.getLogger(builders.__name__)
  logger.addHandler(handler)
  try:
    stats = builders.build_dataset(KAGGLE, data_dir, manual_dir=root)
  finally:
    logger.removeHandler(handler)
  return data_dir, stats, [r.getMessage() for r in records], written


def test_kaggle_counts_and_warnings(kaggle_built):
  _, stats, messages, _ = kaggle_built
  assert stats["splits"] == {"train": 3, "val": 2}
  assert stats["config"] == "r512" and not stats["already_built"]
  skipped = dict((pathlib.Path(p).name, why) for p, why in stats["skipped"])
  assert set(skipped) == {"corrupt.png", "small.png"}
  assert "1024x512" in skipped["small.png"] and "512x512" in skipped["small.png"]
  per_file = [m for m in messages if m.startswith("skipped ") and ": " in m]
  assert len(per_file) == 2 and all("\n" not in m for m in per_file)
  assert any("corrupt.png" in m for m in per_file)
  assert any("small.png" in m for m in per_file)
  assert any("skipped 2 bad file" in m for m in messages)


def test_kaggle_rebuild_reuses_and_reports(kaggle, kaggle_built):
  data_dir, _, _, _ = kaggle_built
  stats = builders.build_dataset(KAGGLE, data_dir, manual_dir=kaggle[0])
  assert stats["already_built"] and stats["splits"] == {"train": 3, "val": 2}
  assert stats["num_skipped"] == 2  # read back from metadata.json


_READER = textwrap.dedent("""
    import json, sys
    import numpy as np
    try:
      import tensorflow
      raise SystemExit("tensorflow imported")
    except ImportError:
      pass
    import tensorflow_datasets as tfds
    data_dir, ref, out = sys.argv[1:4]
    ds = tfds.data_source(ref, data_dir=data_dir, download=False)
    arrays, lens = {}, {}
    for split in ("train", "val"):
      lens[split] = len(ds[split])
      for i in range(len(ds[split])):
        ex = ds[split][i]
        name = ex["name"].decode()
        arrays[name + ":image"] = ex["image"]
        arrays[name + ":sketch"] = ex["sketch"]
    np.savez(out, **arrays)
    assert not [m for m in sys.modules if m.split(".")[0] == "jaxcolor"]
    print(json.dumps({"lens": lens, "tf": sys.modules.get("tensorflow") is not None}))
""")


def _read_without_tf(tmp_path, data_dir, ref):
  """Reads every example in a fresh interpreter where `import tensorflow` fails."""
  blocker = tmp_path / "no_tf"
  blocker.mkdir()
  (blocker / "tensorflow.py").write_text("raise ImportError('TensorFlow is blocked in this test')\n")
  env = dict(os.environ, PYTHONPATH=str(blocker))
  out = tmp_path / "read.npz"
  proc = subprocess.run([sys.executable, "-c", _READER, str(data_dir), ref, str(out)],
                        env=env, capture_output=True, text=True, timeout=120, check=False)
  assert proc.returncode == 0, proc.stderr[-3000:]
  info = json.loads(proc.stdout.strip().splitlines()[-1])
  return info, dict(np.load(out))


def test_kaggle_reads_back_without_tensorflow(kaggle_built, tmp_path):
  data_dir, _, _, written = kaggle_built
  info, arrays = _read_without_tf(tmp_path, data_dir, f"{KAGGLE}/r512")
  assert info == {"lens": {"train": 3, "val": 2}, "tf": False}
  assert len(arrays) == 2 * len(written)
  for name, (color, sketch) in written.items():
    np.testing.assert_array_equal(arrays[name + ":image"], color)
    np.testing.assert_array_equal(arrays[name + ":sketch"][..., 0], sketch)


def test_kaggle_resolution_option(kaggle, tmp_path):
  stats = builders.build_dataset(KAGGLE, tmp_path, manual_dir=kaggle[0], resolution=64)
  assert stats["config"] == "r64" and stats["splits"] == {"train": 3, "val": 2}
  ds = builders.load_split(KAGGLE, "val", tmp_path, resolution=64)
  ex = ds[0]
  assert ex["image"].shape == (64, 64, 3) and ex["sketch"].shape == (64, 64, 1)
  _, written = kaggle
  color = written[ex["name"].decode()][0]
  small = np.asarray(Image.fromarray(color).resize((64, 64), Image.Resampling.BICUBIC))
  np.testing.assert_array_equal(ex["image"], small)


@pytest.mark.parametrize("layout", ["missing", "empty", "no_val"])
def test_kaggle_manual_folder_errors(tmp_path, layout):
  manual = tmp_path / "manual"
  if layout != "missing":
    manual.mkdir()
  if layout == "no_val":
    (manual / "train").mkdir()
    Image.fromarray(np.zeros((512, 1024, 3), np.uint8)).save(manual / "train/a.png")
  with pytest.raises(UserError) as err:
    builders.build_dataset(KAGGLE, tmp_path / "data", manual_dir=manual)
  message = str(err.value)
  assert "\n" not in message
  assert "anime-sketch-colorization-pair" in message and "ktaebum" in message
  assert "train/*.png" in message and str(manual) in message
  assert not (tmp_path / "data" / KAGGLE).exists() or not any(
      (tmp_path / "data" / KAGGLE).rglob("*.array_record*"))


def test_load_split_not_built(tmp_path):
  with pytest.raises(UserError, match="not found"):
    builders.load_split("synthetic_cels", "train", tmp_path, num_train=3, num_val=2)


# ------------------------------------------------------------ image folder


def _write_bomb(path, side=20000):
  """A 1-bit PNG of side x side pixels (> 2x PIL's limit) that is small on disk."""
  Image.new("1", (side, side)).save(path, optimize=False)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
  root = tmp_path_factory.mktemp("art")
  (root / "sub" / "deeper").mkdir(parents=True)
  good = {}
  good["a.png"] = _pattern(11, 80, 120)
  Image.fromarray(good["a.png"]).save(root / "a.png")
  good["b.jpg"] = _pattern(12, 100, 70)
  Image.fromarray(good["b.jpg"]).save(root / "b.jpg", quality=95)
  rgba = np.zeros((64, 64, 4), np.uint8)
  rgba[16:48, 16:48] = (200, 30, 30, 255)  # opaque red square on transparent
  Image.fromarray(rgba, "RGBA").save(root / "sub" / "c_rgba.png")
  good["sub/deeper/d.png"] = _pattern(13, 64, 64)
  Image.fromarray(good["sub/deeper/d.png"]).save(root / "sub" / "deeper" / "d.png")
  good["sub/c_rgba.png"] = None
  (root / "zero.png").write_bytes(b"")
  data = (root / "a.png").read_bytes()
  (root / "truncated.png").write_bytes(data[: len(data) // 2])
  (root / "notes.png").write_text("this is not an image\n")
  _write_bomb(root / "bomb.png")
  return root, good


@pytest.fixture(scope="module")
def folder_built(folder, tmp_path_factory):
  root, _ = folder
  data_dir = tmp_path_factory.mktemp("tfds_folder")
  stats = builders.build_dataset("image_folder", data_dir, folder=root, resolution=32,
                                 val_percent=30)
  return data_dir, stats


def test_folder_build_skips_bad_files(folder_built):
  _, stats = folder_built
  assert stats["config"] == "xdog_r32_val30"
  # sha1 buckets: a.png 6, b.jpg 20, sub/c_rgba.png 36, sub/deeper/d.png 49
  assert stats["splits"] == {"train": 2, "val": 2}
  skipped = {pathlib.Path(p).name: why for p, why in stats["skipped"]}
  assert set(skipped) == {"zero.png", "truncated.png", "notes.png", "bomb.png"}


def test_folder_examples_and_stable_split(folder, folder_built):
  root, good = folder
  data_dir, _ = folder_built
  seen = {}
  for split in ("train", "val"):
    ds = builders.load_split("image_folder", split, data_dir, folder=root, resolution=32,
                             val_percent=30)
    for i in range(len(ds)):
      ex = ds[i]
      name = ex["name"].decode()
      seen[name] = split
      assert ex["image"].shape == (32, 32, 3) and ex["sketch"].shape == (32, 32, 1)
      if name == "sub/c_rgba.png":
        # transparent corners composited onto white, the square stays red
        np.testing.assert_array_equal(ex["image"][0, 0], [255, 255, 255])
        assert ex["image"][16, 16, 0] > 150 and ex["image"][16, 16, 1] < 80
      elif name == "a.png":
        np.testing.assert_array_equal(ex["image"], images.center_square(good[name], 32))
  assert set(seen) == set(good)
  # The split depends only on the relative path, so new files never move old ones.
  assert seen == {n: builders.split_of(n, 30) for n in good}
  assert seen["a.png"] == "val" and seen["sub/deeper/d.png"] == "train"


def test_val_bucket_is_stable():
  # sha1("a.png") mod 100; fixed forever: changing it would reshuffle built splits.
  import hashlib
  assert builders.val_bucket("a.png") == int(hashlib.sha1(b"a.png").hexdigest(), 16) % 100
  assert builders.split_of("a.png", 0) == "train" and builders.split_of("a.png", 100) == "val"
  assert builders.val_bucket("a.png") == 6


def test_folder_errors(tmp_path):
  with pytest.raises(UserError, match="not found"):
    builders.build_dataset("image_folder", tmp_path / "d", folder=tmp_path / "nope")
  (tmp_path / "empty").mkdir()
  with pytest.raises(UserError, match="no images"):
    builders.build_dataset("image_folder", tmp_path / "d", folder=tmp_path / "empty")
  with pytest.raises(UserError, match="sketch_method"):
    builders.build_dataset("image_folder", tmp_path / "d", folder=tmp_path, sketch_method="x")
  with pytest.raises(UserError, match="unknown dataset"):
    builders.build_dataset("nope", tmp_path / "d")


# --------------------------------------------------------------- synthetic


def test_synthetic_deterministic(tmp_path):
  opts = dict(num_train=5, num_val=2, resolution=32)
  first = builders.build_dataset("synthetic_cels", tmp_path / "a", workers=0, **opts)
  second = builders.build_dataset("synthetic_cels", tmp_path / "b", workers=2, **opts)
  assert first["config"] == "r32_n5_2"
  assert first["splits"] == second["splits"] == {"train": 5, "val": 2}
  for split in ("train", "val"):
    a = builders.load_split("synthetic_cels", split, tmp_path / "a", **opts)
    b = builders.load_split("synthetic_cels", split, tmp_path / "b", **opts)
    for i in range(len(a)):
      ea, eb = a[i], b[i]
      assert ea["name"] == eb["name"]
      np.testing.assert_array_equal(ea["image"], eb["image"])
      np.testing.assert_array_equal(ea["sketch"], eb["sketch"])
    name = a[0]["name"].decode()  # synthetic/<split>/<index>
    color, sketch = synthetic.draw_cel(synthetic.example_seed(split, int(name[-6:])), size=32)
    np.testing.assert_array_equal(a[0]["image"], color)
    np.testing.assert_array_equal(a[0]["sketch"][..., 0], sketch)
  # (File bytes may differ between processes: protobuf map order is not fixed.)


def test_cli_build(tmp_path, capsys, monkeypatch):
  from jaxcolor.data import build_command
  monkeypatch.setenv("JAXCOLOR_DATA_DIR", str(tmp_path))
  parse = lambda argv: cli.parse_args(["data", "build", *argv])[0]
  args = parse(["synthetic_cels", "--num-train", "3", "--num-val", "2",
                "--resolution", "32", "--workers", "0"])
  assert build_command.run(args) == 0
  assert capsys.readouterr().out.strip().splitlines()[-1] == (
      "wrote 3 train, 2 val examples; skipped 0 files")
  assert (tmp_path / "synthetic_cels" / "r32_n3_2").is_dir()
  with pytest.raises(UserError, match="--num-train does not apply"):
    build_command.run(parse(["image_folder", "--folder", str(tmp_path), "--num-train", "3"]))


def test_config_names():
  assert builders.make_config("image_folder").name == "xdog_r256"
  assert builders.make_config("image_folder", tag="clip", resolution=128).name == "xdog_r128_clip"
  assert builders.make_config(KAGGLE).name == builders.make_config(KAGGLE, resolution=0).name == "r512"
  assert builders.dataset_ref("synthetic_cels", folder="/x", workers=3) == "synthetic_cels/default"
  with pytest.raises(UserError, match="tag"):
    builders.make_config("image_folder", tag="a/b")
  with pytest.raises(UserError, match="unknown option"):
    builders.make_config("synthetic_cels", sketch_method="hed")
