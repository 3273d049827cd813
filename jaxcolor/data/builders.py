"""TFDS builders for (colour, sketch) pairs, written as array_record.

Four builders, each with features `image` (RGB), `sketch` (1 channel) and
`name` (source file or id):

- `anime_sketch_colorization_pair`: the Kaggle pairs (ktaebum), read from a
  manual folder.
- `image_folder`: any folder of colour illustrations; sketches by XDoG or HED.
- `synthetic_cels`: the embedded default, drawn by `synthetic.draw_cel`.
- `dicebear_characters`: cartoon characters drawn by DiceBear (`characters`),
  with a part map, same-character groups and a held-out `style` split.

Nothing here needs TensorFlow: features are given encoded PNG bytes (encoding
numpy arrays would call tf.image), files are array_record, and reading goes
through `tfds.data_source`, which decodes PNGs with PIL.

Where the data lives: `<data_dir>/<name>/<config>/<version>/`. The config name
is a function of the build options (see `config_name`), so a later
`load_split(name, split, data_dir, **same_options)` or plain
`tfds.data_source("<name>/<config>", data_dir=data_dir)` finds it; reading
needs neither the source folder nor this module (tfds falls back to reading
the builder from the files). The source folder of `image_folder` is a build
argument, not part of the config name: one data_dir holds one build per
option set; give a second folder its own `tag` (or data_dir).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import multiprocessing
import os
import pathlib
import re
import shutil
import sys
import time
from typing import Callable, Iterable, Iterator

from etils import epath
import numpy as np
from PIL import Image
import tensorflow_datasets as tfds

from jaxcolor import sketch as sketch_lib
from jaxcolor.data import characters
from jaxcolor.data import images
from jaxcolor.data import synthetic
from jaxcolor.errors import UserError

log = logging.getLogger(__name__)

VERSION = tfds.core.Version("1.0.0")
KAGGLE_WIDTH, KAGGLE_HEIGHT = 1024, 512
SPLITS = ("train", "val")

KAGGLE_INSTRUCTIONS = (
    'Download the Kaggle dataset "anime-sketch-colorization-pair" (by ktaebum) '
    "and unzip it so that the manual folder holds train/*.png and val/*.png "
    "(a data/ level, data/train and data/val, is accepted too). Each PNG is "
    "1024 wide x 512 high: left half colour, right half sketch."
)

# Below this many items a process pool costs more than it saves.
_MIN_ITEMS_FOR_POOL = 64


# ---------------------------------------------------------------- helpers


def _features(resolution: int | None) -> tfds.features.FeaturesDict:
  side = resolution or None
  return tfds.features.FeaturesDict({
      "image": tfds.features.Image(shape=(side, side, 3), encoding_format="png"),
      "sketch": tfds.features.Image(shape=(side, side, 1), encoding_format="png"),
      "name": tfds.features.Text(),
  })


def _to_gray(rgb: np.ndarray) -> np.ndarray:
  return np.asarray(Image.fromarray(rgb).convert("L"))


def val_bucket(relative_path: str) -> int:
  """Stable bucket in [0, 100) of a path relative to the source folder."""
  digest = hashlib.sha1(relative_path.encode("utf-8")).hexdigest()
  return int(digest, 16) % 100


def split_of(relative_path: str, val_percent: int) -> str:
  return "val" if val_bucket(relative_path) < val_percent else "train"


def _auto_workers(workers: int | None, num_items: int) -> int:
  if workers is not None:
    return max(int(workers), 0)
  if num_items < _MIN_ITEMS_FOR_POOL:
    return 0
  return max(min(os.cpu_count() or 1, 8), 1)


def _imap(fn: Callable, items: Iterable, workers: int, chunksize: int = 8,
          initializer: Callable | None = None, initargs: tuple = ()) -> Iterator:
  """fn over items, in order, in `workers` spawned processes (0 = here).

  `initializer(*initargs)` runs once in each process first (not here when workers=0).
  """
  if workers <= 0:
    yield from map(fn, items)
    return
  # spawn, not fork: the caller may already run JAX threads.
  ctx = multiprocessing.get_context("spawn")
  pool = ctx.Pool(workers, initializer=initializer, initargs=initargs)
  try:
    yield from pool.imap(fn, items, chunksize=chunksize)
    pool.close()
  finally:
    pool.terminate()
    pool.join()


class _Skips:
  """Bad files of one build: one warning line each, listed in the stats."""

  def __init__(self):
    self.items: list[tuple[str, str]] = []

  def add(self, path, reason: str):
    reason = " ".join(str(reason).split()) or "unreadable"
    self.items.append((str(path), reason))
    log.warning("skipped %s: %s", path, reason)


def _check_nonempty(count: int, split: str, folder):
  # tfds cannot finalize an empty split: fail with a message, not its assert.
  if not count:
    raise UserError(f"no readable images for the {split} split in {folder}")


def _png_example(name: str, rgb: np.ndarray, sketch: np.ndarray) -> dict:
  return {"image": images.encode_png(rgb), "sketch": images.encode_png(sketch),
          "name": name}


class _Builder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """Shared parts: PNG-bytes features, skip log, workers, metadata."""

  VERSION = VERSION
  RELEASE_NOTES = {"1.0.0": "First release."}

  def __init__(self, *, workers: int | None = None, **kwargs):
    self._workers = workers
    self.skips = _Skips()
    super().__init__(**kwargs)

  @tfds.core.utils.classproperty
  @classmethod
  def code_path(cls) -> epath.Path:
    # tfds' own lookup needs the `importlib_resources` backport when the
    # package is an editable install; this file is the answer anyway.
    return epath.Path(__file__)

  def _info(self) -> tfds.core.DatasetInfo:
    return tfds.core.DatasetInfo(
        builder=self,
        description=self.__doc__,
        features=_features(self.builder_config.resolution),
        metadata=tfds.core.MetadataDict(),
    )

  def _record_skips(self):
    # Saved to metadata.json, so a later read can still report them.
    self.info.metadata["skipped"] = [list(s) for s in self.skips.items]


# ------------------------------------------------------------------ Kaggle


@dataclasses.dataclass(eq=False)
class PairConfig(tfds.core.BuilderConfig):
  resolution: int = 512
  limit: int = 0
  tag: str = ""  # names a build, e.g. the starter pairs beside the Kaggle ones


def _reason(e: Exception) -> str:
  return getattr(e, "reason", None) or f"{type(e).__name__}: {e}"


def _kaggle_example(args):
  """(key, path, resolution) -> ("ok", key, example) | ("skip", path, why)."""
  try:
    return _kaggle_example_or_raise(*args)
  except Exception as e:  # pylint: disable=broad-except
    return "skip", args[1], _reason(e)  # one bad file never stops a build


def _kaggle_example_or_raise(key, path, resolution):
  rgb = images.load_rgb(path)
  h, w = rgb.shape[:2]
  # Kaggle's pairs are 1024x512; pairs made in the same layout at another size
  # (the starter data) are read alike.
  if w != 2 * h or h < 8:
    return "skip", path, f"expected a 2:1 pair such as {KAGGLE_WIDTH}x{KAGGLE_HEIGHT}, got {w}x{h}"
  half = w // 2
  color, sketch = rgb[:, :half], _to_gray(rgb[:, half:])
  if resolution and resolution != half:
    color = images.resize_square(color, resolution)
    sketch = images.resize_square(sketch, resolution)
  return "ok", key, _png_example(key, color, sketch)


def find_kaggle_split_dirs(manual_dir) -> dict[str, pathlib.Path]:
  """{"train": dir, "val": dir} under manual_dir or manual_dir/data.

  Raises:
    UserError: missing folder, or no train/*.png and val/*.png in it.
  """
  root = pathlib.Path(manual_dir).expanduser() if manual_dir else None
  hint = f"{KAGGLE_INSTRUCTIONS} Manual folder: {root or '(none given)'}"
  if root is None or not root.is_dir():
    raise UserError(f"manual folder not found. {hint}")
  for base in (root, root / "data"):
    dirs = {s: base / s for s in SPLITS}
    if all(d.is_dir() and any(d.glob("*.png")) for d in dirs.values()):
      return dirs
  raise UserError(f"no train/*.png and val/*.png in {root}. {hint}")


class AnimeSketchColorizationPair(_Builder):
  """Kaggle anime-sketch-colorization-pair (ktaebum): Danbooru colour + sketchKeras pairs."""

  MANUAL_DOWNLOAD_INSTRUCTIONS = KAGGLE_INSTRUCTIONS
  BUILDER_CONFIGS = [PairConfig(name="r512", resolution=512)]

  def _split_generators(self, dl_manager):
    try:
      manual_dir = dl_manager.manual_dir
    except AssertionError:  # tfds: missing or empty manual folder
      manual_dir = None
    dirs = find_kaggle_split_dirs(manual_dir)
    return {s: self._generate_examples(dirs[s], s) for s in SPLITS}

  def _generate_examples(self, folder, split):
    files = sorted(p for p in folder.glob("*.png") if p.is_file())
    if self.builder_config.limit:
      files = files[:self.builder_config.limit]
    res = self.builder_config.resolution
    jobs = ((f"{split}/{p.name}", str(p), res) for p in files)
    count = 0
    for status, key, value in _imap(_kaggle_example, jobs,
                                    _auto_workers(self._workers, len(files))):
      if status == "ok":
        yield key, value
        count += 1
      else:
        self.skips.add(key, value)
    self._record_skips()
    _check_nonempty(count, split, folder)


# ------------------------------------------------------------ image folder


@dataclasses.dataclass(eq=False)
class FolderConfig(tfds.core.BuilderConfig):
  resolution: int = 256  # 0 keeps the original size
  sketch_method: str = "xdog"
  val_percent: int = 5
  limit: int = 0
  tag: str = ""  # names a build, e.g. to keep two source folders apart


def _folder_example(args):
  """(key, path, resolution, method) -> ("ok", key, payload) | ("skip", path, why).

  The payload is an example, or for HED (which runs in the parent, on JAX)
  the resized colour image.
  """
  try:
    return _folder_example_or_raise(*args)
  except Exception as e:  # pylint: disable=broad-except
    return "skip", args[1], _reason(e)  # one bad file never stops a build


def _folder_example_or_raise(key, path, resolution, method):
  rgb = images.load_rgb(path)
  if rgb.ndim != 3 or min(rgb.shape[:2]) < 8:
    return "skip", path, f"too small: {rgb.shape[1]}x{rgb.shape[0]}"
  if resolution:
    rgb = images.center_square(rgb, resolution)
  if method == "hed":
    return "ok", key, rgb
  sketch = sketch_lib.sketch_from_color(rgb, None, method=method)
  return "ok", key, _png_example(key, rgb, sketch)


class ImageFolder(_Builder):
  """Colour illustrations from a folder tree; sketches made at build time."""

  name = "image_folder"
  BUILDER_CONFIGS = [FolderConfig(name="xdog_r256")]

  def __init__(self, *, folder=None, **kwargs):
    self._folder = pathlib.Path(folder).expanduser() if folder else None
    super().__init__(**kwargs)

  def _split_generators(self, dl_manager):
    del dl_manager
    if self._folder is None or not self._folder.is_dir():
      raise UserError(f"image folder not found: {self._folder} (give --folder DIR)")
    files = images.list_images(self._folder, recursive=True)
    if not files:
      raise UserError(f"no images ({', '.join(sorted(images.IMAGE_EXTENSIONS))}) "
                      f"in {self._folder}")
    cfg = self.builder_config
    rel = sorted((pathlib.Path(f).relative_to(self._folder).as_posix(), f) for f in files)
    if cfg.limit:
      rel = rel[:cfg.limit]
    by_split = {s: [] for s in SPLITS}
    for r, f in rel:
      by_split[split_of(r, cfg.val_percent)].append((r, f))
    if not by_split["val"] and len(rel) > 1 and cfg.val_percent > 0:
      # tfds cannot write an empty split; in a tiny folder the file with the
      # lowest bucket goes to val (it moves back if a lower one is added).
      first = min(by_split["train"], key=lambda item: (val_bucket(item[0]), item[0]))
      by_split["train"].remove(first)
      by_split["val"].append(first)
    return {s: self._generate_examples(by_split[s], s) for s in SPLITS if by_split[s]}

  def _generate_examples(self, items, split):
    cfg = self.builder_config
    method = cfg.sketch_method
    hed_fn = None
    if method == "hed":
      from jaxcolor.models import vgg  # pylint: disable=g-import-not-at-top
      hed_fn = vgg.make_hed_fn(vgg.load_hed_params())
    jobs = ((r, str(f), cfg.resolution, method) for r, f in items)
    count = 0
    for status, key, value in _imap(_folder_example, jobs,
                                    _auto_workers(self._workers, len(items))):
      if status != "ok":
        self.skips.add(key, value)
        continue
      if hed_fn is not None:
        value = _png_example(key, value, np.asarray(hed_fn(value)))
      yield key, value
      count += 1
    self._record_skips()
    _check_nonempty(count, split, self._folder)


# --------------------------------------------------------------- synthetic


@dataclasses.dataclass(eq=False)
class SyntheticConfig(tfds.core.BuilderConfig):
  resolution: int = 256
  num_train: int = synthetic.NUM_TRAIN
  num_val: int = synthetic.NUM_VAL


def _synthetic_example(args):
  split, index, resolution = args
  color, sketch = synthetic.draw_cel(synthetic.example_seed(split, index), size=resolution)
  key = f"synthetic/{split}/{index:06d}"
  return key, _png_example(key, color, sketch)


class SyntheticCels(_Builder):
  """Synthetic flat-colour cels with line art: needs no download."""

  BUILDER_CONFIGS = [SyntheticConfig(name="default")]

  def _split_generators(self, dl_manager):
    del dl_manager
    cfg = self.builder_config
    counts = {"train": cfg.num_train, "val": cfg.num_val}
    return {s: self._generate_examples(s, counts[s]) for s in SPLITS}

  def _generate_examples(self, split, count):
    jobs = ((split, i, self.builder_config.resolution) for i in range(count))
    yield from _imap(_synthetic_example, jobs, _auto_workers(self._workers, count),
                     chunksize=16)
    self._record_skips()


# -------------------------------------------------------------- characters


@dataclasses.dataclass(eq=False)
class CharactersConfig(tfds.core.BuilderConfig):
  resolution: int = characters.RESOLUTION
  num_characters: int = characters.NUM_CHARACTERS
  colorings: int = characters.COLORINGS  # drawings per character: colorings x variants
  variants: int = characters.VARIANTS
  seed: int = 0
  styles: str = ""  # comma-separated names from characters.STYLES; empty = all
  limit: int = 0  # first N drawings only (a trial build)
  tag: str = ""


_SKETCH_STREAM = 4  # the XDoG parameters' random stream of a drawing


def _character_examples(args):
  """(index, colorings, variants, seed, styles, resolution) ->
  ("ok", index, [example]) | ("skip", index, why)."""
  index, colorings, variants, seed, styles, resolution = args
  try:
    drawings = characters.character_drawings(index, colorings, variants, seed=seed,
                                             styles=styles, size=resolution)
    out = []
    for d in drawings:
      sketch = d["lineart"]
      if sketch is None:  # no clean line art in this style: a filter-made sketch
        rng = np.random.default_rng([seed, index, _SKETCH_STREAM, d["coloring"], d["variant"]])
        sketch = sketch_lib.sketch_from_color(d["image"], rng)
      out.append({
          "image": images.encode_png(d["image"]), "sketch": images.encode_png(sketch),
          "parts": images.encode_png(d["parts"]), "name": d["name"],
          "character": d["character"], "coloring": d["coloring"], "variant": d["variant"],
          "style": d["style"], "license": characters.license_of(d["style"])["license"]})
    return "ok", index, out
  except Exception as e:  # pylint: disable=broad-except
    return "skip", index, _reason(e)  # one bad character never stops a build


def _probe_style(args):
  """(style, seed) -> None, or why the style does not render."""
  style, seed = args
  try:
    base = characters.features(style, seed, 0)
    characters.render_drawing(style, base, characters.colors(style, seed, 0, 0), 32)
    return None
  except Exception as e:  # pylint: disable=broad-except
    return _reason(e)


class DicebearCharacters(_Builder):
  """DiceBear cartoon characters: colour, line art (exact, or XDoG) and a part map each.

  Every character has colorings x variants drawings (the same colours with another
  expression, the same features under other colours); `info.metadata["groups"]`
  lists [character index, coloring, variant] per stored example of each split.
  Splits: train, val (held-out characters), style (held-out styles).
  """

  BUILDER_CONFIGS = [CharactersConfig(name=f"r{characters.RESOLUTION}_"
                                           f"n{characters.NUM_CHARACTERS}")]

  def __init__(self, *, progress: bool = False, **kwargs):
    self._progress = progress
    super().__init__(**kwargs)

  def _info(self) -> tfds.core.DatasetInfo:
    side = self.builder_config.resolution
    return tfds.core.DatasetInfo(
        builder=self,
        description=self.__doc__,
        features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=(side, side, 3), encoding_format="png"),
            "sketch": tfds.features.Image(shape=(side, side, 1), encoding_format="png"),
            "parts": tfds.features.Image(shape=(side, side, 1), encoding_format="png"),
            "name": tfds.features.Text(),
            "character": tfds.features.Text(),
            "coloring": tfds.features.Scalar(dtype=np.int32),
            "variant": tfds.features.Scalar(dtype=np.int32),
            "style": tfds.features.Text(),
            "license": tfds.features.Text(),
        }),
        metadata=tfds.core.MetadataDict(),
        disable_shuffling=True,  # stored in generation order: groups index examples
    )

  def _split_generators(self, dl_manager):
    del dl_manager
    characters.require()
    cfg = self.builder_config
    styles = characters.parse_styles(cfg.styles)
    plan = characters.plan(cfg.num_characters, cfg.colorings, cfg.variants, styles, cfg.limit)
    used = sorted({characters.character(i, styles)[0] for jobs in plan.values()
                   for i, _, _ in jobs}, key=styles.index)
    failed = {}
    for style in used:
      why = _probe_style((style, cfg.seed))
      if why is not None:
        failed[style] = why
    self._skipped_drawings = 0
    for style, why in failed.items():
      n = sum(1 for jobs in plan.values() for i, _, _ in jobs
              if characters.character(i, styles)[0] == style)
      self.skips.add(f"style {style} ({n} drawings)", why)
      self._skipped_drawings += n
    plan = {s: [j for j in jobs if characters.character(j[0], styles)[0] not in failed]
            for s, jobs in plan.items()}
    self._styles = characters.style_objects([s for s in used if s not in failed])
    md = self.info.metadata
    md["part_names"] = {s: characters.part_names(s) for s in used if s not in failed}
    md["licenses"] = {s: characters.license_of(s) for s in used if s not in failed}
    md["lineart"] = {s: characters.STYLES[s].lineart for s in used if s not in failed}
    md["heldout_styles"] = list(characters.HELDOUT_STYLES)
    md["groups_columns"] = ["character_index", "coloring", "variant"]
    md["groups"] = {}
    total = sum(len(jobs) for jobs in plan.values())
    self._bar = None
    if self._progress and total:
      from tqdm import tqdm  # pylint: disable=g-import-not-at-top
      self._bar = tqdm(total=total, unit="drawing", file=sys.stderr, dynamic_ncols=True)
    return {s: self._generate_examples(s, jobs) for s, jobs in plan.items() if jobs}

  def _generate_examples(self, split, jobs):
    cfg = self.builder_config
    styles = characters.parse_styles(cfg.styles)
    wanted = {}
    for i, c, v in jobs:  # `limit` may cut the last character's drawings short
      wanted.setdefault(i, set()).add((c, v))
    work = ((i, cfg.colorings, cfg.variants, cfg.seed, styles, cfg.resolution) for i in wanted)
    groups = []
    for status, index, value in _imap(_character_examples, work,
                                      _auto_workers(self._workers, len(wanted)), chunksize=2,
                                      initializer=characters.install_style_objects,
                                      initargs=(self._styles,)):
      if status != "ok":
        name = characters.character_id(*characters.character(index, styles))
        self.skips.add(f"{name} ({len(wanted[index])} drawings)", value)
        self._skipped_drawings += len(wanted[index])
        if self._bar is not None:
          self._bar.update(len(wanted[index]))
        continue
      for example in value:
        if (example["coloring"], example["variant"]) in wanted[index]:
          yield len(groups), example  # integer keys: stored in this order
          groups.append([index, example["coloring"], example["variant"]])
          if self._bar is not None:
            self._bar.update(1)
    self.info.metadata["groups"][split] = groups
    self.info.metadata["skipped_drawings"] = self._skipped_drawings
    self._record_skips()
    if self._bar is not None and self._bar.n >= self._bar.total:
      self._bar.close()
    _check_nonempty(len(groups), split, "dicebear_characters")


# ----------------------------------------------------------- public API

def default_data_dir() -> str:
  """$JAXCOLOR_DATA_DIR, else ~/jaxcolor_datasets."""
  return (os.environ.get("JAXCOLOR_DATA_DIR") or
          str(pathlib.Path("~/jaxcolor_datasets").expanduser()))


def data_dir_of(config) -> str:
  """config.data.data_dir if set, else $JAXCOLOR_DATA_DIR, else ~/jaxcolor_datasets."""
  configured = config.data.get("data_dir", "") if config is not None else ""
  return str(pathlib.Path(configured).expanduser()) if configured else default_data_dir()


BUILDERS = {
    "anime_sketch_colorization_pair": AnimeSketchColorizationPair,
    "image_folder": ImageFolder,
    "synthetic_cels": SyntheticCels,
    "dicebear_characters": DicebearCharacters,
}
_CONFIG_CLASSES = {
    "anime_sketch_colorization_pair": PairConfig,
    "image_folder": FolderConfig,
    "synthetic_cels": SyntheticConfig,
    "dicebear_characters": CharactersConfig,
}
# Options that only steer the build, never the stored data.
_BUILD_ONLY = {"manual_dir", "folder", "workers", "overwrite", "progress"}


def _check_name(name: str):
  if name not in BUILDERS:
    raise UserError(f"unknown dataset {name!r}; choose one of {', '.join(BUILDERS)}")


def make_config(name: str, **opts) -> tfds.core.BuilderConfig:
  """The BuilderConfig for `name` and options; None values mean defaults.

  The config name spells out every non-default option, so equal options give
  equal names (and the same prepared data).
  """
  _check_name(name)
  cls = _CONFIG_CLASSES[name]
  fields = {f.name: f for f in dataclasses.fields(cls)}
  own = [f for f in fields if f not in {"name", "version", "release_notes",
                                        "supported_versions", "description", "tags"}]
  values = {}
  for key, value in opts.items():
    if key in _BUILD_ONLY or value is None:
      continue
    if key not in own:
      raise UserError(f"{name}: unknown option {key!r} (options: {', '.join(own)})")
    values[key] = value
  if name == "anime_sketch_colorization_pair" and not values.get("resolution", 1):
    values["resolution"] = 512  # 0 = keep the stored size
  if name == "image_folder":
    method = values.get("sketch_method", "xdog")
    if method not in ("xdog", "hed"):
      raise UserError(f"sketch_method must be xdog or hed, got {method!r}")
    if not 0 <= int(values.get("val_percent", 5)) <= 100:
      raise UserError("val_percent must be in [0, 100]")
  for key in ("resolution", "num_train", "num_val", "limit"):
    if key in values and int(values[key]) < 0:
      raise UserError(f"{key} must be >= 0, got {values[key]}")
  if not re.fullmatch(r"[A-Za-z0-9.-]*", str(values.get("tag", ""))):
    raise UserError(f"tag may hold letters, digits, '.' and '-' only, got {values['tag']!r}")
  for key in ("num_train", "num_val"):
    if key in values and int(values[key]) < 1:
      raise UserError(f"{key} must be >= 1, got {values[key]}")
  if name == "synthetic_cels" and values.get("resolution", 256) < 16:
    raise UserError(f"synthetic_cels resolution must be >= 16, got {values['resolution']}")
  if name == "dicebear_characters":
    if int(values.get("resolution", characters.RESOLUTION)) < 32:
      raise UserError(f"dicebear_characters resolution must be >= 32, got {values['resolution']}")
    for key in ("num_characters", "colorings", "variants"):
      if key in values and int(values[key]) < 1:
        raise UserError(f"{key} must be >= 1, got {values[key]}")
    if int(values.get("seed", 0)) < 0:
      raise UserError(f"seed must be >= 0, got {values['seed']}")
    if "styles" in values:
      chosen = characters.parse_styles(values["styles"])  # UserError for unknown names
      values["styles"] = "" if chosen == tuple(characters.STYLES) else ",".join(chosen)
  cfg = cls(name="tmp", **values)
  return dataclasses.replace(cfg, name=config_name(name, cfg))


def config_name(name: str, cfg) -> str:
  """Deterministic config name from the options (tfds: [a-zA-Z0-9_.-])."""
  if name == "synthetic_cels":
    default = SyntheticConfig(name="default")
    if (cfg.resolution, cfg.num_train, cfg.num_val) == (
        default.resolution, default.num_train, default.num_val):
      return "default"
    return f"r{cfg.resolution}_n{cfg.num_train}_{cfg.num_val}"
  if name == "dicebear_characters":
    parts = [f"r{cfg.resolution}", f"n{cfg.num_characters}"]
    if (cfg.colorings, cfg.variants) != (characters.COLORINGS, characters.VARIANTS):
      parts.append(f"c{cfg.colorings}v{cfg.variants}")
    if cfg.seed:
      parts.append(f"seed{cfg.seed}")
    if cfg.styles:
      parts.append(cfg.styles.replace(",", "."))
  elif name == "anime_sketch_colorization_pair":
    parts = [f"r{cfg.resolution}"]
  else:
    parts = [cfg.sketch_method, f"r{cfg.resolution}"]
    if cfg.val_percent != 5:
      parts.append(f"val{cfg.val_percent}")
  if cfg.limit:
    parts.append(f"limit{cfg.limit}")
  if getattr(cfg, "tag", ""):
    parts.append(cfg.tag)
  return "_".join(parts)


def _quiet_custom_config(record: logging.LogRecord) -> bool:
  # Every option set is a "custom" tfds config here: not worth a warning.
  return not record.getMessage().startswith("Using custom data configuration")


def _builder(name, data_dir, cfg, **kwargs):
  cls = BUILDERS[name]
  predefined = cls.builder_configs.get(cfg.name)
  if predefined is not None:
    cfg = predefined  # tfds refuses a custom config named like a predefined one
  absl_log = logging.getLogger("absl")
  absl_log.addFilter(_quiet_custom_config)
  try:
    return cls(data_dir=os.fspath(data_dir), config=cfg, file_format="array_record",
               **kwargs)
  finally:
    absl_log.removeFilter(_quiet_custom_config)


def build_dataset(name: str, data_dir, manual_dir=None, folder=None,
                  resolution: int | None = None, **opts) -> dict:
  """Builds (or finds already built) dataset `name` under data_dir.

  Args:
    name: anime_sketch_colorization_pair | image_folder | synthetic_cels |
      dicebear_characters.
    data_dir: tfds data dir.
    manual_dir: Kaggle download folder (anime_sketch_colorization_pair).
    folder: source folder (image_folder).
    resolution: stored side length; None = the builder's default.
    **opts: sketch_method, val_percent, tag (image_folder); limit (image_folder,
      Kaggle, dicebear_characters);
      num_train, num_val (synthetic_cels); num_characters, colorings, variants,
      seed, styles, tag (dicebear_characters); workers (build processes, None =
      auto); overwrite (rebuild if present); progress (tfds bars; for
      dicebear_characters one bar over drawings).

  Returns:
    {"name", "config", "path", "splits": {split: n} (train and val first, then
    any other split, e.g. dicebear_characters' style), "skipped": [(file,
    reason)], "num_skipped", "already_built", "seconds"}.

  Raises:
    UserError: unknown name/option, missing manual folder or source folder.
  """
  _check_name(name)
  if name == "anime_sketch_colorization_pair" and manual_dir is None:
    manual_dir = pathlib.Path(data_dir, "downloads", "manual")  # tfds' default place
  workers = opts.pop("workers", None)
  overwrite = bool(opts.pop("overwrite", False))
  progress = bool(opts.pop("progress", False))
  cfg = make_config(name, resolution=resolution, **opts)
  kwargs = {"workers": workers}
  if name == "image_folder":
    kwargs["folder"] = folder
  if name == "dicebear_characters":
    kwargs["progress"] = progress  # its own bar, over drawings
  builder = _builder(name, data_dir, cfg, **kwargs)
  already = builder.data_path.exists() and not overwrite
  if not already:
    if name == "anime_sketch_colorization_pair":
      find_kaggle_split_dirs(manual_dir)  # fail before tfds makes any folder
    elif name == "image_folder" and not (folder and pathlib.Path(folder).expanduser().is_dir()):
      raise UserError(f"image folder not found: {folder} (give --folder DIR)")
    elif name == "dicebear_characters":
      characters.require()
  if overwrite and builder.data_path.exists():
    # Only once the sources are known to be there; tfds' own overwrite mode fails on a
    # builder whose info was read from the old build.
    shutil.rmtree(os.fspath(builder.data_path))
    builder = _builder(name, data_dir, cfg, **kwargs)
  config = tfds.download.DownloadConfig(
      manual_dir=os.fspath(pathlib.Path(manual_dir).expanduser()) if manual_dir else None,
      download_mode=tfds.download.GenerateMode.REUSE_DATASET_IF_EXISTS,
      try_download_gcs=False)  # no network lookups
  start = time.time()
  was_active = tfds.core.utils.tqdm_utils._active  # pylint: disable=protected-access
  tfds.display_progress_bar(progress and name != "dicebear_characters")
  try:
    builder.download_and_prepare(download_config=config, file_format="array_record")
  finally:
    tfds.display_progress_bar(was_active)
  seconds = time.time() - start
  if already:
    skipped = [tuple(s) for s in (builder.info.metadata or {}).get("skipped", [])]
  else:
    skipped = builder.skips.items
    if skipped:
      log.warning("skipped %d bad file(s) in %s", len(skipped), name)
  built = list(builder.info.splits.keys())
  return {
      "name": name,
      "config": builder.builder_config.name,
      "path": os.fspath(builder.data_path),
      "splits": {s: int(builder.info.splits[s].num_examples)
                 for s in (*SPLITS, *sorted(set(built) - set(SPLITS))) if s in built},
      "skipped": skipped,
      "num_skipped": len(skipped),
      "already_built": already,
      "seconds": seconds,
  }


def dataset_ref(name: str, **opts) -> str:
  """"<name>/<config>" for tfds.data_source, from the build options."""
  opts = {k: v for k, v in opts.items() if k not in _BUILD_ONLY}
  return f"{name}/{make_config(name, **opts).name}"


def load_split(name: str, split: str, data_dir, **opts):
  """The prepared split as a random-access tfds data source (len, [i]).

  Elements are dicts: image uint8 (H, W, 3), sketch uint8 (H, W, 1), name bytes
  (dicebear_characters adds parts uint8 (H, W, 1), character, style, license
  bytes and coloring, variant int32).
  `opts` are the build options (folder etc. are ignored), to find the config.

  Raises:
    UserError: the dataset was not built in data_dir.
  """
  ref = dataset_ref(name, **opts)
  prepared = pathlib.Path(data_dir, ref).glob("*/dataset_info.json")
  if not any(prepared):
    command = ("data characters" if name == "dicebear_characters" else f"data build {name}")
    raise UserError(f"dataset {ref} not found in {data_dir}: build it with "
                    f"`jaxcolor {command} --data-dir {data_dir}` and the same options")
  return tfds.data_source(ref, split=split, data_dir=os.fspath(data_dir), download=False)


def load_metadata(name: str, data_dir, **opts) -> dict:
  """The built dataset's `info.metadata` (e.g. dicebear_characters' groups), read from
  its files without rendering anything.

  Raises:
    UserError: the dataset was not built in data_dir.
  """
  ref = dataset_ref(name, **opts)
  found = sorted(pathlib.Path(data_dir, ref).glob("*/metadata.json"))
  if not found:
    raise UserError(f"dataset {ref} has no metadata in {data_dir}: build it first")
  return json.loads(found[-1].read_text())
