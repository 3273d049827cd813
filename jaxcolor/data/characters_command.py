"""`jaxcolor data characters`: draw DiceBear cartoon characters into a tfds dataset.

  jaxcolor data characters [--data-dir DIR] [--num-characters N] [--resolution R]
                           [--workers W] [--overwrite]

Each character gets 4 drawings (2 colourings x 2 expressions) with exact line
art where its style has clean outlines (adventurer, micah, open-peeps,
croodles, toon-head; an XDoG sketch for the others) and a part map (paper, ink,
skin, hair, clothes...). Splits: train, val (held-out characters) and style
(toon-head, never trained on); docs/characters_split.txt records them. Needs
`pip install 'jaxcolor[starter]'` (dicebear-core, dicebear-styles, CairoSVG).
The styles' licences (CC BY 4.0, CC0, Avataaars' own) are in docs/NOTICE.md.
"""

from __future__ import annotations

import logging
import pathlib
import sys

import numpy as np
from PIL import Image
from PIL import ImageDraw

from jaxcolor import sketch as sketch_lib
from jaxcolor.data import builders
from jaxcolor.data import characters

NAME = "dicebear_characters"


def build(data_dir, *, num_characters=None, resolution=None, workers=None, overwrite=False,
          progress=True) -> dict:
  """Builds the dataset (or finds it built); prints where, the counts and drawings per second.

  Returns:
    builders.build_dataset's stats.

  Raises:
    UserError: DiceBear or CairoSVG missing (unless already built), or a bad option.
  """
  if not logging.getLogger().handlers:
    # Skip warnings as plain one-liners on stderr.
    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s", stream=sys.stderr)
  stats = builders.build_dataset(NAME, data_dir, resolution=resolution,
                                 num_characters=num_characters, workers=workers,
                                 overwrite=overwrite, progress=progress)
  counts = ", ".join(f"{n} {s}" for s, n in stats["splits"].items())
  total = sum(stats["splits"].values())
  if stats["already_built"]:
    print(f"already built: {stats['path']} (use --overwrite to rebuild)")
  else:
    print(f"built {stats['path']} in {stats['seconds']:.0f} s: "
          f"{total / max(stats['seconds'], 1e-9):.1f} drawings/s")
  print(f"drawings: {counts}; skipped {stats['num_skipped']} (styles or characters)")
  return stats


def run(args) -> int:
  """`jaxcolor data characters`."""
  build(args.data_dir or builders.default_data_dir(), num_characters=args.num_characters,
        resolution=args.resolution, workers=args.workers, overwrite=args.overwrite)
  return 0


def _label(tile: np.ndarray, text: str) -> np.ndarray:
  im = Image.fromarray(tile)
  ImageDraw.Draw(im).text((3, 2), text, fill=(200, 0, 0))
  return np.asarray(im)


def contact_sheet(out, num: int = 12, size: int = 160, seed: int = 0) -> np.ndarray:
  """Writes a sheet of held-out characters (half from split `style`, half from `val`).

  Columns: line art (exact, or XDoG where the style has none) | part map in false
  colours | colour | the same character with the same colours and another
  expression (the reference a reference-based model gets).

  Args:
    out: PNG path (e.g. docs/characters_sheet.png).
    num: rows.
    size: tile side.
    seed: build seed.

  Returns:
    The sheet, uint8 (num * size, 4 * size, 3).
  """
  characters.require()
  plan = characters.plan(characters.NUM_CHARACTERS)
  picks = []
  for split in ("style", "val"):
    seen = []
    for i, _, _ in plan[split]:
      if i not in seen:
        seen.append(i)
    picks += seen[:num // 2 if split == "style" else num - len(picks)]
  rows = []
  for i in picks:
    drawings = characters.character_drawings(i, 1, 2, seed=seed, size=size)
    first, other = drawings[0], drawings[1]
    line = first["lineart"]
    if line is None:
      line = sketch_lib.sketch_from_color(first["image"], np.random.default_rng([seed, i]))
    split = characters.split_of(first["character"])
    rows.append(np.concatenate([
        _label(np.repeat(line[..., None], 3, -1), f"{first['character']} ({split})"),
        characters.false_colors(first["parts"]), first["image"], other["image"]], axis=1))
  sheet = np.concatenate(rows, axis=0)
  pathlib.Path(out).parent.mkdir(parents=True, exist_ok=True)
  Image.fromarray(sheet).save(out)
  return sheet
