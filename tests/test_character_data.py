"""Characters in training and evaluation: the data mix, same-character references, the rows
that show parts, and a reference-family run on the mix."""

import ml_collections
import numpy as np
import pytest

from conftest import SYNTHETIC_SIZES, micro_config
from jaxcolor import color
from jaxcolor import evaluate
from jaxcolor import hints
from jaxcolor import train
from jaxcolor.data import builders
from jaxcolor.data import images
from jaxcolor.data import pipeline

CHARS = {"num_characters": 12, "styles": "micah,toon-head", "resolution": 64}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
  """A few characters of two styles beside a small synthetic_cels set (no network)."""
  d = tmp_path_factory.mktemp("chars")
  builders.build_dataset("dicebear_characters", d, workers=0, **CHARS)
  builders.build_dataset("synthetic_cels", d, **SYNTHETIC_SIZES)
  return d


def _config(data_dir, steps=2, **data):
  c = micro_config(data_dir, family="reference", steps=steps)
  d = c.data
  d.name = "dicebear_characters"
  d.builder_kwargs = ml_collections.ConfigDict(CHARS)
  d.mix = ml_collections.ConfigDict({"dicebear_characters": 3.0, "synthetic_cels": 1.0})
  d.mix_kwargs = ml_collections.ConfigDict({"synthetic_cels": dict(SYNTHETIC_SIZES)})
  d.reference_modes = ml_collections.ConfigDict(
      {"self": 1.0, "same_character": 1.0, "swatch": 0.5, "none": 0.5})
  d.recolor_prob = 0.5
  d.region_points = True
  for k, v in data.items():
    d[k] = v
  return c


def _loader(config, data_dir):
  return pipeline.make_train_loader(config, data_dir=data_dir, process_index=0,
                                    process_count=1, local_device_count=1)


def test_mix_takes_each_source_at_its_share(data_dir):
  chars = builders.load_split("dicebear_characters", "train", data_dir, **CHARS)
  cels = builders.load_split("synthetic_cels", "train", data_dir, **SYNTHETIC_SIZES)
  mixed = pipeline._MixedSource([chars, cels], [3.0, 1.0])  # pylint: disable=protected-access
  # Every source fills its share without repeats in the smallest such length.
  assert mixed.counts.tolist() == [96, 32]
  where = [mixed.locate(i) for i in range(len(mixed))]
  assert sorted({j for s, j in where if s == 1}) == list(range(32))
  assert sorted({j for s, j in where if s == 0}) == list(range(len(chars)))
  element = mixed[100]
  assert (element["_source"], element["_index"]) == (1, 4)


def test_mixed_batches_are_reproducible_and_resume_exactly(data_dir):
  config = _config(data_dir)
  a, b = _loader(config, data_dir), _loader(config, data_dir)
  first = next(a)
  np.testing.assert_array_equal(first["hint"], next(b)["hint"])
  state = a.get_state()
  expected = next(a)
  c = _loader(config, data_dir)
  c.set_state(state)
  got = next(c)
  for k in expected:
    np.testing.assert_array_equal(got[k], expected[k])
  # The reference family's configs train SCFT's triplet loss: each example says which
  # sketch cell each reference cell shows (-1: none known, as for other drawings).
  assert set(expected) == {"sketch", "image", "reference", "hint", "points", "match"}
  assert expected["hint"].shape == expected["image"].shape  # the reference image itself
  cells = (config.image_size // pipeline.match_stride(config)) ** 2
  match = expected["match"]
  assert match.shape == expected["image"].shape[:2] + (cells,) and match.dtype == np.int32
  assert (match >= -1).all() and (match < cells).all()


def test_same_character_partner_shares_character_and_colours(data_dir):
  source = builders.load_split("dicebear_characters", "train", data_dir, **CHARS)
  groups = pipeline.partner_groups(source, "train")
  rows = source.dataset_info.metadata["groups"]["train"]
  for i in range(len(source)):
    j = pipeline.same_character_partner(groups, i)
    assert j is not None and j != i
    assert rows[j][:2] == rows[i][:2] and rows[j][2] != rows[i][2]
  rng = np.random.default_rng(0)
  assert {pipeline.same_character_partner(groups, 0, rng) for _ in range(8)} <= {
      j for j in range(len(source)) if rows[j][:2] == rows[0][:2] and j != 0}


def test_unknown_reference_mode_is_one_line(data_dir):
  config = _config(data_dir, reference_modes=ml_collections.ConfigDict({"selfie": 1.0}))
  with pytest.raises(Exception, match="unknown mode 'selfie'"):
    _loader(config, data_dir)


def test_same_character_eval_references_are_mirrored_partners(data_dir):
  config = _config(data_dir)
  config.data.mix = ml_collections.ConfigDict()
  batches = pipeline.make_eval_batches(config, data_dir=data_dir, split="style",
                                       num_examples=8, local_device_count=1,
                                       reference="same_character")
  b = batches[0]
  assert "parts" in b and b["parts"].max() >= 2
  source = builders.load_split("dicebear_characters", "style", data_dir, **CHARS)
  partner = np.asarray(source[1]["image"])  # example 0's partner: same colours, variant 1
  want = images.center_square(partner, 32)[:, ::-1]
  np.testing.assert_array_equal(color.to_uint8(b["reference"][0, 0]), want)
  # Not the example itself: another drawing.
  assert np.any(color.to_uint8(b["image"][0, 0]) != want)


class _Oracle:
  """A colorizer that paints the ground truth, looked up by its inputs: a perfect model.

  (Two colourings of a character share their sketch: the hint and the dots tell them
  apart.)
  """

  takes_points = True
  kind = "reference"

  def __init__(self, batches):
    self.truth = {}
    for b in batches:
      flat = {k: v.reshape((-1,) + v.shape[2:]) for k, v in b.items() if k != "mask"}
      for i, img in enumerate(flat["image"]):
        self.truth[self._key(flat["sketch"][i], flat["hint"][i], flat["points"][i])] = img

  @staticmethod
  def _key(*arrays):
    return b"".join(np.asarray(a, np.float32).tobytes() for a in arrays)

  def colorize_batch(self, sketch, hint, seed=None, points=None):
    del seed
    return np.stack([self.truth[self._key(s, h, p)] for s, h, p in zip(sketch, hint, points)])


@pytest.mark.parametrize("reference", ["same_character", "none"])
def test_each_row_separates_a_perfect_output_from_all_grey(data_dir, reference):
  config = _config(data_dir)
  config.data.mix = ml_collections.ConfigDict()
  batches = pipeline.make_eval_batches(
      config, data_dir=data_dir, split="style", num_examples=12, local_device_count=1,
      reference=reference, num_points=30 if reference == "none" else 0)
  if reference == "none":
    np.testing.assert_array_equal(color.to_uint8(batches[0]["hint"][0, 0]),
                                  hints.no_reference(32))
  result = evaluate.evaluate(_Oracle(batches), batches, mode="self")["metrics"]
  assert result["model"]["psnr"] == 100.0 and result["model"]["ssim"] > 0.999
  assert result["model"]["part_accuracy"] == 1.0
  grey = result["all_grey"]
  assert grey["psnr"] < 20 and grey["ssim"] < result["model"]["ssim"]
  assert grey["part_accuracy"] < 0.6
  for baseline in ("sketch", "mean_fill"):
    assert result[baseline]["part_accuracy"] < 1.0


def test_reference_family_trains_on_the_mix(data_dir, tmp_path):
  result = train.train_and_evaluate(_config(data_dir, steps=2), str(tmp_path))
  assert result["step"] == 2 and np.isfinite(result["g_loss"])


class _Grey:
  """A colorizer that paints every pixel mid-grey and notes whether it was given dots."""

  takes_points = True
  kind = "reference"

  def __init__(self, config):
    self.config = config
    self.given_dots = []

  def colorize_batch(self, sketch, hint, seed=None, points=None):
    del hint, seed
    self.given_dots.append(points is not None)
    return np.zeros(sketch.shape[:3] + (3,), np.float32)


def test_fill_rows_colour_each_dotted_region_as_colorize_does(data_dir):
  config = _config(data_dir)
  config.data.mix = ml_collections.ConfigDict()
  config.image_size = 64  # at 32 px these sketches enclose no region: nothing to fill
  batches = pipeline.make_eval_batches(config, data_dir=data_dir, split="style",
                                       num_examples=12, local_device_count=1, reference="none",
                                       num_points=30, point_placement="regions")
  grey = _Grey(config)
  plain = evaluate.evaluate(grey, batches, mode="self")["metrics"]["model"]
  filled = evaluate.evaluate(grey, batches, mode="self", fill_dots=True)["metrics"]["model"]
  assert filled["psnr"] > plain["psnr"] + 0.2
  # Both rows from one network pass per batch (as `jaxcolor evaluate` scores them): the
  # same figures as two separate passes.
  grey.given_dots.clear()
  shared = evaluate.evaluate_fills(grey, batches, mode="self", fills=(False, True))
  assert len(grey.given_dots) == len(batches)
  assert shared[0]["metrics"]["model"] == plain and shared[1]["metrics"]["model"] == filled
  # With a reference the fill row's network colours without the dots.
  common = dict(data_dir=data_dir, split="style", num_examples=8, counts=(10,),
                placement="regions")
  grey.given_dots.clear()
  by_fill = evaluate.points_psnr(grey, config, dots="fill", **common)["model"]["psnr_10pts"]
  assert grey.given_dots[0] is False
  by_model = evaluate.points_psnr(grey, config, **common)["model"]["psnr_10pts"]
  assert grey.given_dots[-1] is True and by_fill > by_model
