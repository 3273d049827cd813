"""grain pipeline: batch layout, determinism, per-process shards, resume, eval batches."""

import json

import grain
import ml_collections
import numpy as np
import pytest

from jaxcolor.data import builders
from jaxcolor.data import pipeline

NUM_TRAIN, NUM_VAL = 12, 5
DATA_KWARGS = {"num_train": NUM_TRAIN, "num_val": NUM_VAL, "resolution": 48}


def _tiny_config(**overrides):
  config = ml_collections.ConfigDict()
  config.seed = 7
  config.image_size = 32
  config.per_device_batch_size = 2
  config.num_epochs = None
  config.model = ml_collections.ConfigDict({"hint": "palette"})
  config.data = ml_collections.ConfigDict({
      "name": "synthetic_cels",
      "builder_kwargs": dict(DATA_KWARGS),
      "augment_reference": True,
      "augment_sketch": True,
      "num_workers": 0,
      "crop_scale": (0.5, 1.0),
  })
  for key, value in overrides.items():
    target = config
    *path, last = key.split(".")
    for part in path:
      target = target[part]
    target[last] = value
  return config


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  d = tmp_path_factory.mktemp("tfds")
  builders.build_dataset("synthetic_cels", d, workers=0, **DATA_KWARGS)
  return d


def _loader(data_dir, config=None, process_index=0, process_count=1, devices=2):
  return pipeline.make_train_loader(
      config or _tiny_config(), data_dir=data_dir, process_index=process_index,
      process_count=process_count, local_device_count=devices)


def _take(it, n):
  return [next(it) for _ in range(n)]


def _assert_same(a, b):
  assert a.keys() == b.keys()
  for k in a:
    np.testing.assert_array_equal(a[k], b[k], err_msg=k)


@pytest.mark.parametrize("hint,shape", [("palette", (9, 3)), ("histogram", (4, 4, 3))])
def test_batch_layout(data_dir, hint, shape):
  batch = next(_loader(data_dir, _tiny_config(**{"model.hint": hint})))
  assert set(batch) == {"sketch", "image", "reference", "hint"}
  assert batch["sketch"].shape == (2, 2, 32, 32, 1)
  assert batch["image"].shape == batch["reference"].shape == (2, 2, 32, 32, 3)
  assert batch["hint"].shape == (2, 2) + shape
  for k, v in batch.items():
    assert v.dtype == np.float32, k
    assert -1.0 <= v.min() and v.max() <= 1.0, k
  # white paper dominates a sketch; an augmented reference is not the image itself
  assert np.median(batch["sketch"]) > 0.5 and batch["sketch"].min() < 0.0
  assert not np.array_equal(batch["reference"], batch["image"])


def test_plain_reference_is_the_image(data_dir):
  config = _tiny_config(**{"data.augment_reference": False, "data.augment_sketch": False})
  batch = next(_loader(data_dir, config))
  np.testing.assert_array_equal(batch["reference"], batch["image"])


def test_deterministic(data_dir):
  first = _take(_loader(data_dir), 3)
  second = _take(_loader(data_dir), 3)
  for a, b in zip(first, second):
    _assert_same(a, b)
  other = next(_loader(data_dir, _tiny_config(seed=8)))
  assert not np.array_equal(other["image"], first[0]["image"])


class _Name(grain.transforms.RandomMap):
  """Stands in for the train transform: the example's id, as a batchable array."""

  def __init__(self, **kwargs):
    del kwargs

  def random_map(self, element, rng):
    del rng
    return {"id": np.array(int(element["name"].decode().rsplit("/", 1)[-1]))}


def test_processes_get_disjoint_shards(data_dir, monkeypatch):
  monkeypatch.setattr(pipeline, "_TrainTransform", _Name)
  config = _tiny_config(num_epochs=1)
  config.per_device_batch_size = 1
  seen = []
  for p in range(2):
    ids = [int(i) for b in _loader(data_dir, config, p, 2, devices=2) for i in b["id"].ravel()]
    assert len(ids) == NUM_TRAIN // 2 and len(set(ids)) == len(ids)
    seen.append(set(ids))
  assert not seen[0] & seen[1]
  assert seen[0] | seen[1] == set(range(NUM_TRAIN))
  # Global batches do not depend on the process count: the two processes'
  # b-th batches, device after device, are the one-process run's b-th batch.
  single = [b["id"] for b in _loader(data_dir, config, 0, 1, devices=4)]
  split = [[b["id"] for b in _loader(data_dir, config, p, 2, devices=2)] for p in range(2)]
  assert len(single) == len(split[0]) == len(split[1]) > 0
  for whole, first, second in zip(single, *split):
    np.testing.assert_array_equal(whole, np.concatenate([first, second]))


def test_resume_continues_with_next_batch(data_dir):
  it = _loader(data_dir)
  _take(it, 2)
  state = it.get_state()
  json.loads(state)  # grain state is JSON: orbax's grain handler stores it as is
  expected = _take(it, 2)
  restored = _loader(data_dir)
  restored.set_state(state)
  for a, b in zip(expected, _take(restored, 2)):
    _assert_same(a, b)


def _examples(batches):
  """Examples of a list of batches as sorted byte strings (order-free comparison)."""
  out = []
  for b in batches:
    flat = {k: v.reshape((-1,) + v.shape[2:]) for k, v in b.items()}
    for i in range(len(flat["image"])):
      out.append(b"".join(flat[k][i].tobytes() for k in sorted(flat)))
  return sorted(out)


def test_worker_processes_give_same_examples(data_dir):
  # grain batches inside each worker: worker w gets samples w, w + 2, ..., so the
  # batches are composed differently, but every sample is bitwise the same.
  # histogram: spares each worker the sklearn import that K-means needs
  config = _tiny_config(**{"data.num_workers": 2, "model.hint": "histogram"})
  ref = _take(_loader(data_dir, _tiny_config(**{"model.hint": "histogram"})), 2)
  it = _loader(data_dir, config)
  got = [next(it)]
  state = it.get_state()
  got.append(next(it))
  assert _examples(got) == _examples(ref)
  np.testing.assert_array_equal(got[0]["image"][0, 0], ref[0]["image"][0, 0])
  # resume works with workers too
  restored = _loader(data_dir, config)
  restored.set_state(state)
  _assert_same(next(restored), got[1])


def test_eval_batches(data_dir):
  config = _tiny_config()
  batches = pipeline.make_eval_batches(config, data_dir=data_dir, num_examples=NUM_VAL,
                                       local_device_count=2)
  again = pipeline.make_eval_batches(config, data_dir=data_dir, num_examples=NUM_VAL,
                                     local_device_count=2)
  assert len(batches) == 2  # 5 examples, batches of 4: the last is padded
  for a, b in zip(batches, again):
    _assert_same(a, b)
  first = batches[0]
  assert first["image"].shape == (2, 2, 32, 32, 3) and first["hint"].shape == (2, 2, 9, 3)
  np.testing.assert_array_equal(first["reference"], first["image"])
  np.testing.assert_array_equal(batches[1]["mask"].ravel(), [1, 0, 0, 0])
  assert first["mask"].sum() == 4

  shuffled = pipeline.make_eval_batches(config, data_dir=data_dir, num_examples=NUM_VAL,
                                        local_device_count=2, shuffled_reference=True)
  images = np.concatenate([b["image"].reshape(-1, 32, 32, 3) for b in batches])[:NUM_VAL]
  refs = np.concatenate([b["reference"].reshape(-1, 32, 32, 3) for b in shuffled])[:NUM_VAL]
  for i in range(NUM_VAL):
    assert not np.array_equal(refs[i], images[i])
    # the reference is another example's ground truth
    assert any(np.array_equal(refs[i], images[j]) for j in range(NUM_VAL) if j != i)
  np.testing.assert_array_equal(shuffled[0]["image"], first["image"])
  assert not np.array_equal(shuffled[0]["hint"], first["hint"])


def test_derangement():
  for n in (2, 3, 10):
    p = pipeline.derangement(n, 0)
    assert sorted(p) == list(range(n)) and all(p[i] != i for i in range(n))
  np.testing.assert_array_equal(pipeline.derangement(10, 3), pipeline.derangement(10, 3))
