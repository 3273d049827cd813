"""grain input pipeline: prepared tfds splits -> training and evaluation batches.

Batches follow docs/CONTRACTS.md: dicts of float32 numpy arrays in [-1, 1]
with leading axes (local_device_count, per_device_batch_size): "sketch"
(..., H, W, 1), "image" and "reference" (..., H, W, 3), "hint" (..., 9, 3) or
(..., 4, 4, 3). Eval batches also carry "mask" (local_devices, per_device):
1 for a real example, 0 for padding in the last batch.

Training randomness is a function of (config.seed, global sample index) only:
the grain IndexSampler gives each sample a Philox generator keyed by
seed + index, and `_TrainTransform` mixes config.seed in again so that seeds
s and s + 1 do not share streams. So a restored iterator, any worker count and
any process draws the same numbers for the same sample. Which samples share a
batch does depend on config.data.num_workers (grain batches inside each
worker: worker w takes samples w, w + n, ...): resume with the same count.

Cost per 256x256 example on one core: about 5 ms here (decode, crop, flip,
sketch jitter), plus the reference warp (~20 ms) and a palette hint's K-means
(~40 ms); num_workers > 0 spreads that over processes.
"""

from __future__ import annotations

from absl import flags
import grain
import numpy as np
from PIL import Image

from jaxcolor import color as color_lib
from jaxcolor import hints
from jaxcolor import sketch as sketch_lib
from jaxcolor.data import augment
from jaxcolor.data import builders
from jaxcolor.data import images
from jaxcolor.errors import UserError
from jaxcolor.paint import regions as regions_lib

_RATIO = (3 / 4, 4 / 3)


def _builder_kwargs(config) -> dict:
  kwargs = config.data.get("builder_kwargs", None) or {}
  return {k: kwargs[k] for k in kwargs.keys()}  # ConfigDict, FrozenConfigDict or dict


def load_source(config, split: str, data_dir):
  """The tfds data source of config.data.name's split."""
  return builders.load_split(config.data.name, split, data_dir, **_builder_kwargs(config))


def _source_specs(config) -> list[tuple[str, float, dict]]:
  """[(dataset name, weight, build options)] of the training mix.

  config.data.mix maps dataset names to weights ({} or unset: config.data.name alone);
  config.data.mix_kwargs[name] holds a mixed dataset's build options, config.data.name's
  own are config.data.builder_kwargs.
  """
  mix = config.data.get("mix", None) or {}
  mix = {k: mix[k] for k in mix.keys()}
  if not mix:
    return [(config.data.name, 1.0, _builder_kwargs(config))]
  extra = config.data.get("mix_kwargs", None) or {}
  specs = []
  for name in sorted(mix):
    weight = float(mix[name])
    if not weight > 0:
      raise UserError(f"config.data.mix.{name} must be > 0, got {mix[name]}")
    if name == config.data.name:
      kwargs = _builder_kwargs(config)
    else:
      given = extra.get(name, None) or {}
      kwargs = {k: given[k] for k in given.keys()}
    specs.append((name, weight, kwargs))
  return specs


def partner_groups(source, split: str):
  """For a source with same-character sets: (group of each example, {group: indices}).

  A group is one character under one colouring; its examples differ in expression or
  accessories. Read from the build's metadata ("groups": per split, one [character,
  colouring, variant] row per example, in storage order); None for datasets without.
  """
  info = getattr(source, "dataset_info", None)
  metadata = (info.metadata if info is not None else None) or {}
  rows = (metadata.get("groups") or {}).get(split)
  if rows is None:
    return None
  keys = np.asarray(rows, np.int64)
  group_of = keys[:, 0] * 1_000_003 + keys[:, 1]  # (character, colouring)
  members = {}
  for i, g in enumerate(group_of.tolist()):
    members.setdefault(g, []).append(i)
  return group_of, {g: np.asarray(v, np.int64) for g, v in members.items()}


def same_character_partner(groups, index: int, rng=None):
  """Another example of the same character and colouring, or None if it has none.

  With rng None the first other member (evaluation's fixed choice), else a random one.
  """
  if groups is None:
    return None
  group_of, members = groups
  others = members[int(group_of[index])]
  others = others[others != index]
  if not len(others):
    return None
  return int(others[0] if rng is None else others[rng.integers(len(others))])


class _MixedSource:
  """Several tfds sources as one random-access source with fixed shares.

  Source s gets round(weight_s / total * length) slots, where length is the smallest
  size at which every source fills its share once without repeats; a source with fewer
  examples than its slots repeats them in order. The slots are laid out source after
  source (the sampler shuffles them), and each element says where it came from
  ("_source", "_index"), so the transform can fetch another drawing of the same
  character. Deterministic, so a grain iterator restored from a checkpoint resumes it.
  """

  def __init__(self, sources, weights):
    self.sources = list(sources)
    w = np.asarray(weights, np.float64)
    w = w / w.sum()
    sizes = np.asarray([len(src) for src in self.sources], np.float64)
    length = int(np.ceil(np.max(sizes / w)))
    self.counts = np.maximum(np.rint(w * length).astype(np.int64), 1)
    self.starts = np.concatenate([[0], np.cumsum(self.counts)])

  def __len__(self):
    return int(self.starts[-1])

  def locate(self, index: int) -> tuple[int, int]:
    s = int(np.searchsorted(self.starts, index, side="right") - 1)
    return s, int((index - self.starts[s]) % len(self.sources[s]))

  def __getitem__(self, index):
    s, j = self.locate(int(index))
    element = dict(self.sources[s][j])
    element["_source"], element["_index"] = s, j
    return element

  def __repr__(self):
    return f"_MixedSource(counts={self.counts.tolist()})"



def _example(color: np.ndarray, sketch: np.ndarray, reference: np.ndarray,
             hint_kind: str, hint_seed: int, options=None, points=None, match=None) -> dict:
  """uint8 colour (H, W, 3), sketch (H, W), reference [, point planes] -> float32 example."""
  hint = hints.compute_hint(hint_kind, reference, seed=hint_seed, **(options or {}))
  example = {
      "sketch": color_lib.to_float(sketch)[..., None],
      "image": color_lib.to_float(color),
      "reference": color_lib.to_float(reference),
      "hint": color_lib.to_float(hint),
  }
  if points is not None:
    example["points"] = points
  if match is not None:
    example["match"] = match
  return example


def point_options(config) -> dict | None:
  """Colour-point sampling of the config, or None when the model takes no points."""
  if not config.model.get("points", False):
    return None
  return {"max_points": int(config.data.get("max_points", 0)),
          "none_prob": float(config.data.get("points_none_prob", 0.0))}


REFERENCE_MODES = ("self", "same_character", "other", "none", "swatch")


def _reference_shares(config) -> dict:
  """{mode: share} of config.data.reference_modes, checked; {} = augmented self only."""
  modes = config.data.get("reference_modes", None) or {}
  modes = {k: float(modes[k]) for k in modes.keys()}
  for k, v in modes.items():
    if k not in REFERENCE_MODES:
      raise UserError(f"config.data.reference_modes: unknown mode {k!r} "
                      f"(modes: {', '.join(REFERENCE_MODES)})")
    if v < 0:
      raise UserError(f"config.data.reference_modes.{k} must be >= 0, got {v}")
  if modes and sum(modes.values()) <= 0:
    raise UserError("config.data.reference_modes: the shares add up to 0")
  return modes


class _TrainTransform(grain.transforms.RandomMap):
  """Random crop + flip (shared by colour, sketch and part map), sketch and reference
  augmentation, colour points.

  The reference is, by config.data.reference_modes' shares: the augmented self (colour
  jitter + thin-plate-spline warp), another drawing of the same character and colouring
  (mirrored and shifted at random; datasets with same-character sets only, else the
  augmented self), another drawing of the same dataset, none (uniform grey: the colour
  must come from the points), or the target's palette as a swatch picture.
  """

  def __init__(self, *, seed: int, image_size: int, hint: str, crop_scale,
               augment_sketch: bool, augment_reference: bool, hint_options=None,
               jitter_target: bool = False, xdog_prob: float = 0.0, points=None,
               reference_modes=None, recolor_prob: float = 0.0, region_points=False,
               points_on_paper=False, sources=None, groups=None, match_stride=0):
    self.seed = int(seed)
    self.image_size = int(image_size)
    self.hint = hint
    self.hint_options = dict(hint_options or {})
    self.crop_scale = tuple(float(s) for s in crop_scale)
    self.augment_sketch = bool(augment_sketch)
    self.augment_reference = bool(augment_reference)
    self.jitter_target = bool(jitter_target)
    self.xdog_prob = float(xdog_prob)
    self.points = dict(points) if points is not None else None
    modes = dict(reference_modes or {})
    self.mode_names = list(modes)
    total = sum(modes.values()) or 1.0
    self.mode_cdf = np.cumsum([modes[k] / total for k in self.mode_names])
    self.recolor_prob = float(recolor_prob)
    self.region_points = bool(region_points)
    # Part maps number the paper 0; off, no dot ever lands there (the stream of earlier runs).
    self.paper_id = 0 if points_on_paper else None
    self.sources = sources  # the _MixedSource, for drawings other than the element's own
    self.groups = groups or {}  # {source index: partner_groups(...)}
    # > 0: each example also carries `match`, which cell of the sketch (cells of this many
    # pixels) each reference cell shows, for the triplet loss; NO_MATCH where unknown.
    self.match_stride = int(match_stride)

  def _crop(self, rng, color, sketch, parts):
    h, w = color.shape[:2]
    box = augment.random_resized_crop_params(rng, h, w, scale=self.crop_scale, ratio=_RATIO)
    color = augment.crop_resize(color, box, self.image_size)
    sketch = augment.crop_resize(sketch, box, self.image_size)
    if parts is not None:
      parts = augment.crop_resize(parts, box, self.image_size, Image.Resampling.NEAREST)
    if rng.random() < 0.5:
      color, sketch = augment.hflip(color), augment.hflip(sketch)
      parts = None if parts is None else augment.hflip(parts)
    return color, sketch, parts

  def _mode(self, rng):
    if not self.mode_names:
      return "self"
    return self.mode_names[int(np.searchsorted(self.mode_cdf, rng.random(), side="right")
                               .clip(0, len(self.mode_names) - 1))]

  def _other_drawing(self, element, mode, rng):
    """The colour image of another drawing for `mode`, mirrored and cropped; or None."""
    if self.sources is None or mode not in ("same_character", "other"):
      return None
    s, j = int(element["_source"]), int(element["_index"])
    if mode == "same_character":
      k = same_character_partner(self.groups.get(s), j, rng)
      if k is None:
        return None
    else:
      n = len(self.sources.sources[s])
      if n < 2:
        return None
      k = int((j + 1 + rng.integers(n - 1)) % n)
    other = np.asarray(self.sources.sources[s][k]["image"])
    h, w = other.shape[:2]
    box = augment.random_resized_crop_params(rng, h, w, scale=(0.6, 1.0), ratio=_RATIO)
    other = augment.crop_resize(other, box, self.image_size)
    return augment.hflip(other) if rng.random() < 0.5 else other

  def random_map(self, element, rng: np.random.Generator):
    rng = np.random.default_rng([self.seed, int(rng.integers(2**63))])
    color = np.asarray(element["image"])
    sketch = np.asarray(element["sketch"])[..., 0]
    parts = np.asarray(element["parts"])[..., 0] if "parts" in element else None
    color, sketch, parts = self._crop(rng, color, sketch, parts)
    # Randomness is drawn only for the options that are on, so that turning none on
    # keeps the stream (and the results) of earlier versions.
    if self.xdog_prob and rng.random() < self.xdog_prob:
      sketch = sketch_lib.sketch_from_color(color, rng)  # another line style than the data's
    if self.augment_sketch:
      sketch = sketch_lib.augment_sketch(sketch, rng)
    mode = self._mode(rng)
    other = self._other_drawing(element, mode, rng)
    if mode in ("same_character", "other") and other is None:
      mode = "self"
    if self.jitter_target and self.augment_reference:
      # SCFT's augmented self: the target gets the reference's colour change too, so the
      # reference always shows the colours the model is asked to paint.
      if other is not None:
        jitter_seed = int(rng.integers(2**63))
        color = augment.color_jitter(color, np.random.default_rng(jitter_seed))
        other = augment.color_jitter(other, np.random.default_rng(jitter_seed))
      else:
        color = augment.color_jitter(color, rng)
    recolored = []
    before = color
    if self.recolor_prob and parts is not None and rng.random() < self.recolor_prob:
      # The reference keeps the old colours of the recoloured parts; only the dots (one
      # on each recoloured part) tell the new ones, so the model must follow dots.
      color, recolored = augment.recolor_parts(color, parts, rng)
    cells, match = None, None
    if self.match_stride:
      cells = (self.image_size // self.match_stride,) * 2
      match = np.full(cells[0] * cells[1], augment.NO_MATCH, np.int32)
    if mode == "none":
      reference = hints.no_reference(self.image_size)
    elif mode == "swatch":
      reference = hints.palette_reference(hints.palette_colors(before, seed=0),
                                          self.image_size)
    elif other is not None:
      reference = other
    elif self.augment_reference:
      # With jitter_target the target (so `before`) has the colour jitter already.
      warp = augment.tps_warp if self.jitter_target else augment.augmented_reference
      reference = warp(before, rng, match_cells=cells)
      if cells is not None:
        reference, match = reference
    else:
      reference = before
      if cells is not None:
        match = np.arange(cells[0] * cells[1], dtype=np.int32)
    points = None
    if self.points is not None:
      none_prob = 0.0 if mode == "none" else self.points["none_prob"]
      n = hints.random_point_count(rng, self.points["max_points"], none_prob)
      if self.region_points and parts is not None:
        radius = hints.point_radius(self.image_size, self.image_size)
        points = hints.region_points(color, parts, rng, n, radius, must=recolored,
                                     paper_id=self.paper_id)
      else:
        points = hints.draw_points(color, rng, n)
    return _example(color, sketch, reference, self.hint, int(rng.integers(2**31)),
                    self.hint_options, points, match)


class _ToDevices(grain.transforms.Map):
  """(B, ...) -> (local_devices, B // local_devices, ...)."""

  def __init__(self, local_device_count: int):
    self.n = int(local_device_count)

  def map(self, element):
    return {k: v.reshape((self.n, v.shape[0] // self.n) + v.shape[1:])
            for k, v in element.items()}


def _check_batching(config, local_device_count):
  if local_device_count < 1 or config.per_device_batch_size < 1:
    raise UserError("local_device_count and config.per_device_batch_size must be >= 1")
  if config.model.hint not in hints.KINDS:
    raise UserError(f"config.model.hint must be one of {sorted(hints.KINDS)}, "
                    f"got {config.model.hint!r}")


class _GlobalBatchSampler:
  """Maps grain's interleaved per-process reads onto contiguous global-batch slices.

  grain's loader asks process p for sampler indices p, p + P, p + 2P, ...; its
  k-th request is answered with global position b*G + p*L + j (k = b*L + j,
  L = local batch, G = P*L) of the one global order.
  """

  def __init__(self, sampler, local_batch: int, process_count: int):
    self._sampler = sampler
    self._local = local_batch
    self._count = process_count
    self._global = local_batch * process_count

  def __len__(self):
    return len(self._sampler) // self._global * self._global

  def __repr__(self):
    return (f"_GlobalBatchSampler({self._sampler!r}, local_batch={self._local}, "
            f"process_count={self._count})")

  def __getitem__(self, index: int):
    if index < 0 or index >= len(self):
      raise IndexError(index)
    k, p = divmod(index, self._count)
    b, j = divmod(k, self._local)
    metadata = self._sampler[b * self._global + p * self._local + j]
    return grain.RecordMetadata(index=index, record_key=metadata.record_key, rng=metadata.rng)


def check_augment_options(config):
  """One-line errors for augmentation fields that would otherwise be silently ignored."""
  d = config.data
  for name in ("xdog_prob", "points_none_prob"):
    if not 0.0 <= float(d.get(name, 0.0)) <= 1.0:
      raise UserError(f"config.data.{name} must be in [0, 1], got {d.get(name)}")
  if int(d.get("max_points", 0)) > 0 and not config.model.get("points", False):
    raise UserError("config.data.max_points needs config.model.points=True")
  if int(d.get("max_points", 0)) < 0:
    raise UserError(f"config.data.max_points must be >= 0, got {d.get('max_points')}")
  if d.get("jitter_target", False) and not d.get("augment_reference", True):
    raise UserError("config.data.jitter_target needs config.data.augment_reference=True")
  if not 0.0 <= float(d.get("recolor_prob", 0.0)) <= 1.0:
    raise UserError(f"config.data.recolor_prob must be in [0, 1], got {d.get('recolor_prob')}")
  if float(d.get("recolor_prob", 0.0)) > 0 and not config.model.get("points", False):
    raise UserError("config.data.recolor_prob needs config.model.points=True: only colour "
                    "points can tell a recoloured part's colour")
  if d.get("region_points", False) and not config.model.get("points", False):
    raise UserError("config.data.region_points needs config.model.points=True")
  _reference_shares(config)


def _train_sources(config, data_dir):
  """(the mixed train source, [each dataset's source]) of config.data's mix."""
  specs = _source_specs(config)
  parts = [builders.load_split(name, "train", data_dir, **kwargs) for name, _, kwargs in specs]
  return _MixedSource(parts, [w for _, w, _ in specs]), parts


def train_size(config, data_dir) -> int:
  """Examples in one epoch of the training mix (one dataset: its train split)."""
  return len(_train_sources(config, data_dir)[0])


def match_stride(config) -> int:
  """Pixels per side of the cells the triplet loss matches (the reference attention's
  stride), or 0 when the config has no triplet loss."""
  if float((config.get("loss") or {}).get("triplet", 0.0) or 0.0) <= 0:
    return 0
  return 2 ** (int(config.model.get("attention_level", 2)) + 1)


def make_train_loader(config, *, data_dir, process_index: int, process_count: int,
                      local_device_count: int):
  """Checkpointable iterator over this process's shard of the train split.

  One global shuffle per epoch (config.seed) is shared by every process.
  Global batch b is positions [b*G, (b+1)*G) of it (G = the global batch) and
  process p takes the p-th contiguous slice, so within an epoch the
  processes' examples are disjoint and cover the split, and every device sees
  the same examples, with the same augmentation draws, whatever the number of
  processes: a 2-host run trains on exactly the data of a 1-host run (with
  num_workers fixed: grain batches inside each worker). The sample stream is repeated config.num_epochs times (None:
  forever). Batches hold local_device_count * config.per_device_batch_size
  examples, reshaped to (local_device_count, per_device_batch_size, ...);
  an incomplete last batch is dropped.

  The returned grain DataLoaderIterator has get_state()/set_state() (JSON
  bytes); save it with orbax through grain.checkpoint.CheckpointSave /
  CheckpointRestore, e.g. ocp.args.Composite(state=..., data=CheckpointSave(it)).
  """
  _check_batching(config, local_device_count)
  check_augment_options(config)
  source, parts = _train_sources(config, data_dir)
  groups = {i: partner_groups(src, "train") for i, src in enumerate(parts)}
  shard = grain.sharding.ShardOptions(shard_index=int(process_index),
                                      shard_count=int(process_count), drop_remainder=True)
  if len(source) < process_count:
    raise UserError(f"train split has {len(source)} examples, fewer than "
                    f"{process_count} processes")
  num_epochs = config.get("num_epochs", None)
  sampler = _GlobalBatchSampler(
      grain.samplers.IndexSampler(
          num_records=len(source), shard_options=grain.sharding.NoSharding(), shuffle=True,
          num_epochs=int(num_epochs) if num_epochs else None, seed=int(config.seed)),
      local_batch=int(local_device_count) * int(config.per_device_batch_size),
      process_count=int(process_count))
  data = config.data
  transform = _TrainTransform(
      seed=config.seed, image_size=config.image_size, hint=config.model.hint,
      crop_scale=data.get("crop_scale", (0.5, 1.0)),
      augment_sketch=data.get("augment_sketch", True),
      augment_reference=data.get("augment_reference", True),
      hint_options=hints.hint_options(config), jitter_target=data.get("jitter_target", False),
      xdog_prob=data.get("xdog_prob", 0.0), points=point_options(config),
      reference_modes=_reference_shares(config), recolor_prob=data.get("recolor_prob", 0.0),
      region_points=data.get("region_points", False),
      points_on_paper=data.get("points_on_paper", False), sources=source,
      groups={i: g for i, g in groups.items() if g is not None},
      match_stride=match_stride(config))
  batch = int(local_device_count) * int(config.per_device_batch_size)
  worker_count = int(data.get("num_workers", 0) or 0)
  if worker_count and not flags.FLAGS.is_parsed():
    # grain's worker start reads its absl flags; without absl.app (our CLI is
    # argparse) they were never parsed, so take their defaults.
    flags.FLAGS.mark_as_parsed()
  loader = grain.DataLoader(
      data_source=source,
      sampler=sampler,
      operations=[transform,
                  grain.transforms.Batch(batch_size=batch, drop_remainder=True),
                  _ToDevices(local_device_count)],
      worker_count=worker_count,
      shard_options=shard)
  return iter(loader)


def derangement(n: int, seed: int) -> np.ndarray:
  """A fixed permutation of range(n) with no fixed point (n >= 2)."""
  if n < 2:
    raise UserError("a shuffled reference needs at least 2 examples")
  perm = np.random.default_rng(seed).permutation(n)
  for i in range(n):
    if perm[i] == i:  # swap with a neighbour; keeps it a permutation
      j = (i + 1) % n
      perm[i], perm[j] = perm[j], perm[i]
  return perm


POINT_PLACEMENTS = ("pixels", "regions")


def eval_points(color: np.ndarray, num_points: int, seed: int, sketch=None,
                placement: str = "pixels") -> np.ndarray:
  """num_points ground-truth dots at places fixed by (seed, the example's index).

  "pixels": square dots of the pixel's own colour at random places, lines and paper
  included (`hints.draw_points`). "regions": what a user does on the page: a disc inside a
  closed region of the sketch (`paint.regions`), off its lines, of that region's median
  ground-truth colour (`hints.region_points`).
  """
  rng = np.random.default_rng([seed, 7])
  if placement == "pixels":
    return hints.draw_points(color, rng, num_points)
  if placement != "regions":
    raise UserError(f"unknown dot placement {placement!r}: expected one of "
                    f"{', '.join(POINT_PLACEMENTS)}")
  found = regions_lib.segment(sketch)
  # Ids from 2 up, as part maps number their colour parts; line pixels (0) get no dot and
  # stay out of the median. The lines are the regions' own (specks already dropped).
  ids = np.where(found.ink, 0, found.labels + 2)
  radius = hints.point_radius(*ids.shape)
  return hints.region_points(color, ids, rng, num_points, radius)


EVAL_REFERENCES = ("self", "shuffled", "same_character", "none")


def _center_parts(parts, size):
  """A part map's centre square at `size`, nearest neighbour (ids must stay ids)."""
  h, w = parts.shape[:2]
  s = min(h, w)
  top, left = (h - s) // 2, (w - s) // 2
  crop = np.ascontiguousarray(parts[top:top + s, left:left + s])
  return np.asarray(Image.fromarray(crop).resize((size, size), Image.Resampling.NEAREST))


def _dots_on_paper(planes):
  """The dots drawn on white: what the baselines' "reference" is when dots are all."""
  rgba = hints.points_rgba(planes)
  out = np.full(rgba.shape[:2] + (3,), 255, np.uint8)
  on = rgba[..., 3] > 0
  out[on] = rgba[on, :3]
  return out


def make_eval_batches(config, *, data_dir, split: str = "val", num_examples: int,
                      local_device_count: int, shuffled_reference: bool = False,
                      num_points: int = 0, reference: str | None = None,
                      point_placement: str = "pixels") -> list[dict]:
  """Deterministic eval batches of the first num_examples examples of `split`.

  Colour and sketch are centre-cropped and resized to config.image_size, not
  augmented. The reference (`reference`, default "self", or "shuffled" when
  shuffled_reference) is:
  - "self": the ground truth;
  - "shuffled": the colour image of another example (a fixed derangement);
  - "same_character": another drawing of the same character and colouring, mirrored
    left-right (datasets with same-character sets; examples without one are left out);
  - "none": no reference, the colour comes from the `num_points` dots alone (the
    reference family reads uniform grey, the palette family the dots' colours).
  Dots are placed as `eval_points` does with `point_placement`.
  The hint comes from the reference. Datasets with part maps add "parts" (ids as
  float32). The last batch is padded by repeating examples, with mask 0 there.
  """
  _check_batching(config, local_device_count)
  mode = reference or ("shuffled" if shuffled_reference else "self")
  if mode not in EVAL_REFERENCES:
    raise UserError(f"unknown evaluation reference {mode!r}: expected one of "
                    f"{', '.join(EVAL_REFERENCES)}")
  source = load_source(config, split, data_dir)
  size = int(config.image_size)
  indices = range(len(source))
  partners = {}
  if mode == "same_character":
    groups = partner_groups(source, split)
    if groups is None:
      raise UserError(f"{config.data.name}: no same-character sets in this dataset")
    partners = {i: same_character_partner(groups, i) for i in indices}
    indices = [i for i in indices if partners[i] is not None]
  indices = list(indices)[:int(num_examples)]
  n = len(indices)
  if n < 1:
    raise UserError(f"{split} split is empty or num_examples < 1")
  colors, sketches, refs, parts = [], [], [], []
  for i in indices:
    element = source[i]
    colors.append(images.center_square(np.asarray(element["image"]), size))
    sketches.append(images.center_square(np.asarray(element["sketch"])[..., 0], size))
    if "parts" in element:
      parts.append(_center_parts(np.asarray(element["parts"])[..., 0], size))
    if mode == "same_character":
      other = np.asarray(source[partners[i]]["image"])
      refs.append(augment.hflip(images.center_square(other, size)))
  if mode == "self":
    refs = colors
  elif mode == "shuffled":
    refs = [colors[j] for j in derangement(n, int(config.seed))]
  with_points = point_options(config) is not None
  if num_points and not with_points:
    raise UserError("this model takes no colour points (config.model.points is off)")
  if mode == "none" and not (with_points and num_points):
    raise UserError("evaluating without a reference needs colour points "
                    "(config.model.points and num_points > 0)")
  examples = []
  for k, (c, s) in enumerate(zip(colors, sketches)):
    dots = eval_points(c, num_points, k, s, point_placement) if with_points else None
    if mode == "none":
      example = _example(c, s, _dots_on_paper(dots), config.model.hint, k,
                         hints.hint_options(config), dots)
      example["hint"] = color_lib.to_float(_points_only_hint(config, dots))
    else:
      example = _example(c, s, refs[k], config.model.hint, k, hints.hint_options(config), dots)
    if parts:
      example["parts"] = parts[k].astype(np.float32)
    examples.append(example)
  per_device = int(config.per_device_batch_size)
  batch = int(local_device_count) * per_device
  to_devices = _ToDevices(local_device_count)
  batches = []
  for start in range(0, n, batch):
    idx = [start + k for k in range(batch)]
    items = [examples[i % n] for i in idx]
    stacked = {k: np.stack([e[k] for e in items]) for k in items[0]}
    stacked["mask"] = np.array([i < n for i in idx], np.float32)
    batches.append(to_devices.map(stacked))
  return batches


def _points_only_hint(config, dots):
  """The hint a model gets from dots alone, as `infer.Colorizer` makes it: uint8."""
  kind = config.model.hint
  if kind == hints.REFERENCE:
    return hints.no_reference(int(config.image_size))
  if kind == "palette":
    return hints.palette_from_points(hints.points_rgba(dots))
  raise UserError(f"a {kind} model needs a reference: it cannot colour from dots alone")
