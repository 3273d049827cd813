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

from jaxcolor import color as color_lib
from jaxcolor import hints
from jaxcolor import sketch as sketch_lib
from jaxcolor.data import augment
from jaxcolor.data import builders
from jaxcolor.data import images
from jaxcolor.errors import UserError

_RATIO = (3 / 4, 4 / 3)


def _builder_kwargs(config) -> dict:
  kwargs = config.data.get("builder_kwargs", None) or {}
  return {k: kwargs[k] for k in kwargs.keys()}  # ConfigDict, FrozenConfigDict or dict


def load_source(config, split: str, data_dir):
  """The tfds data source of config.data.name's split."""
  return builders.load_split(config.data.name, split, data_dir, **_builder_kwargs(config))



def _example(color: np.ndarray, sketch: np.ndarray, reference: np.ndarray,
             hint_kind: str, hint_seed: int, options=None, points=None) -> dict:
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
  return example


def point_options(config) -> dict | None:
  """Colour-point sampling of the config, or None when the model takes no points."""
  if not config.model.get("points", False):
    return None
  return {"max_points": int(config.data.get("max_points", 0)),
          "none_prob": float(config.data.get("points_none_prob", 0.0))}


class _TrainTransform(grain.transforms.RandomMap):
  """Random crop + flip (shared by colour and sketch), sketch and reference augmentation."""

  def __init__(self, *, seed: int, image_size: int, hint: str, crop_scale,
               augment_sketch: bool, augment_reference: bool, hint_options=None,
               jitter_target: bool = False, xdog_prob: float = 0.0, points=None):
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

  def random_map(self, element, rng: np.random.Generator):
    rng = np.random.default_rng([self.seed, int(rng.integers(2**63))])
    color = np.asarray(element["image"])
    sketch = np.asarray(element["sketch"])[..., 0]
    h, w = color.shape[:2]
    box = augment.random_resized_crop_params(rng, h, w, scale=self.crop_scale, ratio=_RATIO)
    color = augment.crop_resize(color, box, self.image_size)
    sketch = augment.crop_resize(sketch, box, self.image_size)
    if rng.random() < 0.5:
      color, sketch = augment.hflip(color), augment.hflip(sketch)
    # Randomness is drawn only for the options that are on, so that turning none on
    # keeps the stream (and the results) of earlier versions.
    if self.xdog_prob and rng.random() < self.xdog_prob:
      sketch = sketch_lib.sketch_from_color(color, rng)  # another line style than the data's
    if self.augment_sketch:
      sketch = sketch_lib.augment_sketch(sketch, rng)
    if self.jitter_target and self.augment_reference:
      # SCFT's augmented self: the target gets the reference's colour change too, so the
      # palette always names the colours the model is asked to paint.
      color = augment.color_jitter(color, rng)
      reference = augment.tps_warp(color, rng)
    elif self.augment_reference:
      reference = augment.augmented_reference(color, rng)
    else:
      reference = color
    points = None
    if self.points is not None:
      n = hints.random_point_count(rng, self.points["max_points"], self.points["none_prob"])
      points = hints.draw_points(color, rng, n)
    return _example(color, sketch, reference, self.hint, int(rng.integers(2**31)),
                    self.hint_options, points)


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
  if config.model.hint not in hints.HINT_SHAPES:
    raise UserError(f"config.model.hint must be one of {sorted(hints.HINT_SHAPES)}, "
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
  source = load_source(config, "train", data_dir)
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
      xdog_prob=data.get("xdog_prob", 0.0), points=point_options(config))
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


def eval_points(color: np.ndarray, num_points: int, seed: int) -> np.ndarray:
  """num_points ground-truth dots at places fixed by (seed, the example's index)."""
  return hints.draw_points(color, np.random.default_rng([seed, 7]), num_points)


def make_eval_batches(config, *, data_dir, split: str = "val", num_examples: int,
                      local_device_count: int, shuffled_reference: bool = False,
                      num_points: int = 0) -> list[dict]:
  """Deterministic eval batches of the first num_examples examples of `split`.

  Colour and sketch are centre-cropped and resized to config.image_size, not
  augmented. The reference is the ground truth, or with shuffled_reference
  the colour image of another example (a fixed derangement); the hint comes
  from the reference. The last batch is padded by repeating examples, with
  mask 0 there.
  """
  _check_batching(config, local_device_count)
  source = load_source(config, split, data_dir)
  n = min(int(num_examples), len(source))
  if n < 1:
    raise UserError(f"{split} split is empty or num_examples < 1")
  size = int(config.image_size)
  colors, sketches = [], []
  for i in range(n):
    element = source[i]
    colors.append(images.center_square(np.asarray(element["image"]), size))
    sketches.append(images.center_square(np.asarray(element["sketch"])[..., 0], size))
  refs = colors
  if shuffled_reference:
    refs = [colors[j] for j in derangement(n, int(config.seed))]
  with_points = point_options(config) is not None
  if num_points and not with_points:
    raise UserError("this model takes no colour points (config.model.points is off)")
  examples = [_example(c, s, r, config.model.hint, i, hints.hint_options(config),
                       eval_points(c, num_points, i) if with_points else None)
              for i, (c, s, r) in enumerate(zip(colors, sketches, refs))]
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
