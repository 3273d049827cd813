"""Does SCFT's triplet loss teach the reference attention where to look?

  .venv/bin/python docs/triplet_study.py runs/a:2750 runs/b:2750 [--num 64]

For each checkpoint (a training workdir of the reference family, optionally :step), on
held-out drawings: the drawing's own colours, colour-jittered and warped by a random
thin-plate spline as in training, are the reference, and the warp says which reference
cell shows each sketch cell (`augment.warp_match`). Match accuracy is the share of sketch
cells whose strongest reference cell (attention logits summed over heads) is that cell
(`exact`), or at most one cell away (`near`: 8 px at 1/8). Only cells where something is drawn
count (a pixel of the colour drawing not near-white): blank paper matches any blank paper
equally well. The drawings: characters
of the never-trained style (`dicebear_characters`, split `style`) and the palette
starter's held-out drawings (`starter_src/val`), evenly spaced, the same warps for every
checkpoint. Prints one JSON line per checkpoint and set.
"""

import argparse
import json
import os
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

from jaxcolor import checkpoint
from jaxcolor import color as color_lib
from jaxcolor import hints
from jaxcolor import infer
from jaxcolor import models
from jaxcolor.data import augment
from jaxcolor.data import builders
from jaxcolor.data import images

BATCH = 8


def character_set(data_dir, num, size):
  source = builders.load_split("dicebear_characters", "style", data_dir)
  picks = np.linspace(0, len(source) - 1, num).round().astype(int)
  square = lambda img: images.center_square(np.asarray(img), size)
  return [(square(source[int(i)]["sketch"][..., 0]), square(source[int(i)]["image"]))
          for i in picks]


def drawing_set(data_dir, num, size):
  files = sorted(pathlib.Path(data_dir, "starter_src", "val").glob("*.png"))
  out = []
  for k in np.linspace(0, len(files) - 1, num).round().astype(int):
    pair = np.asarray(Image.open(files[k]).convert("RGB"))
    r = pair.shape[0]
    out.append((images.center_square(infer.load_sketch(pair[:, r:]), size),
                images.center_square(pair[:, :r], size)))
  return out


def warped(examples, cells, seed=0):
  """(sketches, colours, references, matches): the same warps whatever the checkpoint."""
  refs, matches = [], []
  for i, (_, rgb) in enumerate(examples):
    ref, match = augment.augmented_reference(rgb, np.random.default_rng([seed, i]),
                                             match_cells=(cells, cells))
    refs.append(ref)
    matches.append(match)
  return (np.stack([s for s, _ in examples]), np.stack([c for _, c in examples]),
          np.stack(refs), np.stack(matches))


def match_accuracy(config, params, sketches, colours, references, matches):
  """{"exact": share, "near": share, "cells": count} over the cells where something is
  drawn."""
  gen = models.make_generator(config.model)
  stride = gen.reference_stride
  cells = sketches.shape[1] // stride

  @jax.jit
  def logits(sketch, reference):
    x = sketch[..., None]
    points = jnp.zeros(x.shape[:3] + (hints.POINT_CHANNELS,), x.dtype)
    x = models.generator_input(config.model.hint, x, None,
                               points if models.uses_points(config.model) else None)
    _, found = gen.apply({"params": params}, x, reference, noise_mode="zero",
                         with_guides=True, with_match=True)
    return jnp.einsum("bqhd,bkhd->bqk", found["query"].astype(jnp.float32),
                      found["key"].astype(jnp.float32))

  hits = near = total = 0
  rows, cols = np.divmod(np.arange(cells * cells), cells)
  for start in range(0, len(sketches), BATCH):
    s = color_lib.to_float(sketches[start:start + BATCH])
    r = color_lib.to_float(references[start:start + BATCH])
    best = np.asarray(logits(s, r)).argmax(-1)  # (B, queries): the strongest key
    for b, m in enumerate(matches[start:start + BATCH]):
      drawn = colours[start + b].reshape(cells, stride, cells, stride, 3).min((1, 3, 4)) < 240
      shown = np.zeros(cells * cells, bool)
      shown[m[m >= 0]] = True  # sketch cells the reference shows somewhere
      queries = np.flatnonzero(drawn.reshape(-1) & shown)
      got = m[best[b, queries]]
      ok = got >= 0
      hits += int((got == queries).sum())
      dist = np.maximum(np.abs(rows[got] - rows[queries]), np.abs(cols[got] - cols[queries]))
      near += int((ok & (dist <= 1)).sum())
      total += len(queries)
  return {"exact": hits / max(total, 1), "near": near / max(total, 1), "cells": total}


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("runs", nargs="+", help="training workdirs, each optionally :step")
  parser.add_argument("--num", type=int, default=64, help="drawings per set")
  args = parser.parse_args()
  data_dir = os.environ.get("JAXCOLOR_DATA_DIR", os.path.expanduser("~/jaxcolor_datasets"))
  sets = None
  for run in args.runs:
    path, _, step = run.partition(":")
    config, params, step = checkpoint.load_generator(path, int(step) if step else None)
    if sets is None:
      size = int(config.image_size)
      cells = size // (2 ** (int(config.model.get("attention_level", 2)) + 1))
      sets = {"style characters": warped(character_set(data_dir, args.num, size), cells),
              "drawings": warped(drawing_set(data_dir, args.num, size), cells)}
    for name, data in sets.items():
      result = match_accuracy(config, params, *data)
      print(json.dumps({"run": path, "step": step, "set": name, **result}), flush=True)


if __name__ == "__main__":
  main()
