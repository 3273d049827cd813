"""The starter model's training pairs, made from art that installs from package registries.

  jaxcolor data starter [--data-dir DIR]     # pairs in DIR/starter_src, then the tfds build

It then builds the DiceBear cartoon characters too (`jaxcolor data characters`,
jaxcolor/data/characters_command.py), with their default size.

Sources (see docs/MODEL_CARD.md for why these):
- OpenMoji (npm `@iconify-json/openmoji`, CC BY-SA 4.0): flat-colour emoji with a
  black stroke layer: person-drawn line art, aligned to the pixel.
- Open Clip Art (Debian `openclipart-svg`, public domain): varied drawings; those
  with dark outlines give exact line art, the others (colourful, no outlines) an
  XDoG sketch, so that the model also meets filter-made lines.

Both are fetched with the ordinary clients (`npm pack`, `apt-get download`) into
a cache folder, unpacked there, rendered at `resolution` and written in the
Kaggle pairs' layout (`train/*.png`, `val/*.png`, colour left, sketch right), so
the `anime_sketch_colorization_pair` builder reads them. The held-out split is by
drawing (a hash of its source name, skin-tone variants together), never by crop;
`split.txt` records it (a copy is docs/starter_split.txt).
"""

from __future__ import annotations

import glob
import json
import os
import pathlib
import re
import subprocess
import sys

import numpy as np

from jaxcolor.data import builders
from jaxcolor.data import images
from jaxcolor.data import lineart
from jaxcolor.errors import UserError

NPM_PACKAGE = "@iconify-json/openmoji@1.2.29"
DEB_PACKAGES = ("openclipart-svg",)
VAL_PERCENT = 5
RESOLUTION = 256
# Files above this size are huge scenes that render slowly and shrink to noise.
_MAX_SVG_BYTES = 1_000_000


def _run(cmd, cwd):
  try:
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True)
  except FileNotFoundError:
    raise UserError(f"{cmd[0]} not found: it is needed to fetch the starter data") from None
  except subprocess.CalledProcessError as e:
    last = (e.stderr or e.stdout or "").strip().splitlines()[-1:] or ["failed"]
    raise UserError(f"{' '.join(cmd)}: {last[0]}") from None


def fetch_sources(cache: pathlib.Path) -> dict:
  """Downloads and unpacks the sources into `cache` (skipped when already there)."""
  cache.mkdir(parents=True, exist_ok=True)
  icons = cache / "openmoji" / "package" / "icons.json"
  if not icons.exists():
    (cache / "openmoji").mkdir(exist_ok=True)
    _run(["npm", "pack", "--silent", NPM_PACKAGE], cwd=cache / "openmoji")
    tgz = sorted((cache / "openmoji").glob("*.tgz"))[-1]
    _run(["tar", "xzf", tgz.name], cwd=cache / "openmoji")
  clipart = cache / "deb" / "usr" / "share" / "openclipart" / "svg"
  if not clipart.is_dir():
    (cache / "deb").mkdir(exist_ok=True)
    _run(["apt-get", "download", *DEB_PACKAGES], cwd=cache)
    for deb in sorted(cache.glob("*.deb")):
      _run(["dpkg", "-x", deb.name, "deb"], cwd=cache)
  return {"icons": icons, "clipart": clipart}


def list_drawings(sources: dict) -> list[tuple[str, str, bytes | str]]:
  """[(name, kind, svg or path)] in a fixed order; names are unique and say the source."""
  data = json.loads(pathlib.Path(sources["icons"]).read_text())
  w, h = data.get("width", 72), data.get("height", 72)
  items = []
  for key in sorted(data["icons"]):
    icon = data["icons"][key]
    items.append((f"openmoji/{key}", "icon",
                  lineart.wrap_icon(icon["body"], icon.get("width", w), icon.get("height", h))))
  root = pathlib.Path(sources["clipart"])
  for path in sorted(glob.glob(str(root / "**" / "*.svg"), recursive=True)):
    if os.path.getsize(path) <= _MAX_SVG_BYTES:
      items.append((f"openclipart/{pathlib.Path(path).relative_to(root).as_posix()}", "file",
                    path))
  return items


_SKIN_TONE = re.compile(r"-(light|medium-light|medium|medium-dark|dark)-skin-tone")


def split_key(name: str) -> str:
  """What the held-out split hashes: OpenMoji's skin-tone variants share their line art,
  so they go to one side together (else a held-out sketch would be a training sketch)."""
  return _SKIN_TONE.sub("", name)


def split_of(name: str) -> str:
  return builders.split_of(split_key(name), VAL_PERCENT)


def _colourful_share(rgb):
  c = rgb.astype(np.int16)
  return float(np.mean(c.max(-1) - c.min(-1) > 40))


def _ink_share(sketch):
  return float(np.mean(sketch < 128))


def make_pair(name, kind, svg, resolution):
  """(name, pair uint8 (R, 2R, 3), sketch method) or (name, None, why skipped)."""
  try:
    if kind == "file":
      svg = pathlib.Path(svg).read_bytes()
    color, sketch, kept = lineart.render_pair(svg, resolution)
  except Exception as e:  # pylint: disable=broad-except
    return name, None, f"{type(e).__name__}: {str(e)[:80]}"
  if _colourful_share(color) < 0.03:
    return name, None, "too little colour"
  method = "lines"
  ink = _ink_share(sketch)
  if kept == 0 or not 0.004 <= ink <= 0.35:
    from jaxcolor import sketch as sketch_lib  # pylint: disable=g-import-not-at-top
    # No usable outline layer: a filter-made sketch, with per-drawing random style.
    seed = int(builders.val_bucket(name)) * 7919 + len(name)
    sketch = sketch_lib.sketch_from_color(color, np.random.default_rng(seed))
    method = "xdog"
    if not 0.004 <= _ink_share(sketch) <= 0.35:
      return name, None, "no usable lines"
  pair = np.concatenate([color, np.repeat(sketch[..., None], 3, -1)], axis=1)
  return name, pair, method


def _make_pair_args(args):
  return make_pair(*args)


def prepare(out: pathlib.Path, cache: pathlib.Path | None = None, *, resolution=RESOLUTION,
            limit=0, workers=None, progress=True) -> dict:
  """Fetches, renders and writes the pairs; returns counts. Rerunning skips written files."""
  out = pathlib.Path(out).expanduser()
  cache = pathlib.Path(cache).expanduser() if cache else out / "cache"
  sources = fetch_sources(cache)
  items = list_drawings(sources)
  if limit:
    items = items[:limit]
  for split in builders.SPLITS:
    (out / split).mkdir(parents=True, exist_ok=True)

  def target(name, split=None):
    return out / (split or split_of(name)) / (name.replace("/", "__").removesuffix(".svg")
                                               + ".png")

  for n, _, _ in items:  # pairs written under an earlier split rule move sides
    for split in builders.SPLITS:
      if split != split_of(n) and target(n, split).exists():
        os.replace(target(n, split), target(n))
  todo = [(n, k, s, resolution) for n, k, s in items if not target(n).exists()]
  workers = os.cpu_count() if workers is None else workers
  bar = None
  if progress:
    from tqdm import tqdm  # pylint: disable=g-import-not-at-top
    bar = tqdm(total=len(todo), unit="drawing", file=sys.stderr, dynamic_ncols=True)
  counts = {"lines": 0, "xdog": 0, "skipped": 0}
  for name, pair, why in builders._imap(_make_pair_args, todo, workers):  # pylint: disable=protected-access
    if pair is None:
      counts["skipped"] += 1
    else:
      images.save_image(pair, target(name))
      counts[why] += 1
    if bar is not None:
      bar.update(1)
  if bar is not None:
    bar.close()
  split_lines = sorted(f"{split_of(n)}\t{n}" for n, _, _ in items if target(n).exists())
  (out / "split.txt").write_text("\n".join(split_lines) + "\n")
  totals = {s: len(list((out / s).glob("*.png"))) for s in builders.SPLITS}
  return {**counts, **totals}


def run(args) -> int:
  """`jaxcolor data starter`: fetch, render, then build the tfds dataset the config reads."""
  from jaxcolor.data import build_command  # pylint: disable=g-import-not-at-top
  from jaxcolor.data import characters_command  # pylint: disable=g-import-not-at-top

  data_dir = args.data_dir or builders.default_data_dir()
  out = pathlib.Path(data_dir).expanduser() / "starter_src"
  counts = prepare(out, args.cache, limit=args.limit, workers=args.workers)
  print(f"pairs in {out}: {counts['train']} train, {counts['val']} held-out "
        f"({counts['lines']} drawn lines, {counts['xdog']} XDoG this run; "
        f"{counts['skipped']} drawings skipped)")
  stats = builders.build_dataset("anime_sketch_colorization_pair", data_dir, manual_dir=out,
                                 resolution=RESOLUTION, tag="starter", workers=args.workers,
                                 progress=True)
  print(build_command.summary(stats))
  # The cartoon characters (reference pairs, part maps) train the same model.
  characters_command.build(data_dir, num_characters=args.limit or None, workers=args.workers)
  return 0
