"""Metrics to JSON lines and TensorBoard (tensorboardX: no TensorFlow), sample grids.

Only process 0 writes; other processes get a writer that does nothing.
"""

import json
import os
import time

import numpy as np

from jaxcolor import color


class MetricWriter:
  """Appends `{"step": s, "time": t, name: value, ...}` lines to metrics.jsonl."""

  def __init__(self, workdir: str, enabled: bool = True, tensorboard: bool = True):
    self.enabled = enabled
    self._tb = None
    if not enabled:
      return
    os.makedirs(workdir, exist_ok=True)
    self._path = os.path.join(workdir, "metrics.jsonl")
    if tensorboard:
      from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
      self._tb = SummaryWriter(os.path.join(workdir, "tensorboard"))

  def scalars(self, step: int, values: dict):
    if not self.enabled:
      return
    clean = {k: float(v) for k, v in values.items()}
    with open(self._path, "a") as f:
      f.write(json.dumps({"step": int(step), "time": time.time(), **clean}) + "\n")
    if self._tb is not None:
      for k, v in clean.items():
        self._tb.add_scalar(k, v, int(step))

  def image(self, step: int, tag: str, array: np.ndarray):
    if self.enabled and self._tb is not None:
      self._tb.add_image(tag, array, int(step), dataformats="HWC")

  def flush(self):
    if self._tb is not None:
      self._tb.flush()

  def close(self):
    if self._tb is not None:
      self._tb.close()


def sample_grid(sketch, reference, output, target, max_rows: int = 8) -> np.ndarray:
  """uint8 grid, one row per example: sketch | reference | output | ground truth.

  Inputs are float arrays in [-1, 1], (B, H, W, C) with C = 1 or 3.
  """
  rows = []
  for i in range(min(max_rows, len(output))):
    cells = [np.broadcast_to(a[i], a[i].shape[:2] + (3,)) for a in (sketch, reference, output,
                                                                    target)]
    rows.append(np.concatenate(cells, axis=1))
  return color.to_uint8(np.concatenate(rows, axis=0))

