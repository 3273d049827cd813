"""Tests for jaxcolor.data.synthetic: the procedurally drawn default dataset."""

import numpy as np
import pytest

from jaxcolor.data import synthetic
from jaxcolor.errors import UserError

SEEDS = range(12)


@pytest.fixture(scope="module")
def examples():
  return {s: synthetic.draw_cel(s) for s in SEEDS}


def test_shapes_and_determinism(examples):
  color, sketch = examples[0]
  assert color.shape == (256, 256, 3) and color.dtype == np.uint8
  assert sketch.shape == (256, 256) and sketch.dtype == np.uint8
  again = synthetic.draw_cel(0)
  assert again[0].tobytes() == color.tobytes() and again[1].tobytes() == sketch.tobytes()
  assert examples[1][0].tobytes() != color.tobytes()
  small_c, small_s = synthetic.draw_cel(5, size=64)
  assert small_c.shape == (64, 64, 3) and small_s.shape == (64, 64)


def test_white_background(examples):
  for color, sketch in examples.values():
    for y, x in [(0, 0), (0, -1), (-1, 0), (-1, -1)]:
      assert (color[y, x] == 255).all() and sketch[y, x] == 255


def test_sketch_lines_are_black_lines_of_colour(examples):
  for color, sketch in examples.values():
    inked = sketch < 64
    assert inked.mean() > 0.002  # there are lines
    # Wherever the sketch has ink, the colour image is (nearly) black too...
    assert color[inked].max() < 72
    # ...and wherever the colour image is pure black, the sketch has ink.
    black = color.max(-1) <= 10
    assert (sketch[black] < 64).all()


def test_colour_variety(examples):
  all_colors = set()
  for color, _ in examples.values():
    flat = color.reshape(-1, 3)
    uniq, counts = np.unique(flat, axis=0, return_counts=True)
    big = uniq[counts > 150]  # flat fills, not anti-aliasing
    assert len(big) >= 4  # paper + at least one fill and its shade, and more
    all_colors.update(map(tuple, big))
  assert len(all_colors) > 40


def test_example_seeds_disjoint():
  train = {synthetic.example_seed("train", i) for i in range(synthetic.NUM_TRAIN)}
  val = {synthetic.example_seed("val", i) for i in range(synthetic.NUM_VAL)}
  assert len(train) == synthetic.NUM_TRAIN and len(val) == synthetic.NUM_VAL
  assert not train & val
  with pytest.raises(UserError, match="test"):
    synthetic.example_seed("test", 0)
  with pytest.raises(UserError):
    synthetic.example_seed("train", -1)
