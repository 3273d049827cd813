"""`jaxcolor data build NAME`: prepare a dataset as array_record under a data dir.

Examples:

  # the embedded synthetic cels (no download)
  jaxcolor data build synthetic_cels

  # the Kaggle pairs, downloaded by hand (train/*.png, val/*.png)
  jaxcolor data build anime_sketch_colorization_pair --manual-dir ~/kaggle/anime

  # Debian's public-domain clip art (apt-get install openclipart-png)
  jaxcolor data build image_folder --folder /usr/share/openclipart/png

The data dir defaults to $JAXCOLOR_DATA_DIR, else ~/jaxcolor_datasets. Bad
files are skipped with one warning line each; the last line reads
`wrote N train, M val examples; skipped K files`.
"""

from __future__ import annotations

import logging
import sys

from jaxcolor.data import builders
from jaxcolor.errors import UserError


def _options(args) -> dict:
  name = args.name
  opts = {}
  allowed = {
      "image_folder": ("sketch_method", "val_percent", "limit", "tag"),
      "anime_sketch_colorization_pair": ("limit", "tag"),
      "synthetic_cels": ("num_train", "num_val"),
  }[name]
  for key in ("sketch_method", "val_percent", "num_train", "num_val", "limit", "tag"):
    value = getattr(args, key, None)
    if value is None:
      continue
    if key not in allowed:
      raise UserError(f"--{key.replace('_', '-')} does not apply to {name}")
    opts[key] = value
  if name == "anime_sketch_colorization_pair" and args.folder:
    raise UserError("anime_sketch_colorization_pair reads --manual-dir, not --folder")
  if name == "image_folder" and args.manual_dir:
    raise UserError("image_folder reads --folder, not --manual-dir")
  if name == "image_folder" and not args.folder:
    raise UserError("image_folder needs --folder DIR")
  return opts


def summary(stats: dict) -> str:
  s = stats["splits"]
  return (f"wrote {s.get('train', 0)} train, {s.get('val', 0)} val examples; "
          f"skipped {stats['num_skipped']} files")


def run(args) -> int:
  """Builds the dataset named in args; prints the summary line. Returns 0."""
  opts = _options(args)
  if not logging.getLogger().handlers:
    # Bad-file warnings as plain one-liners on stderr.
    logging.basicConfig(level=logging.WARNING, format="warning: %(message)s", stream=sys.stderr)
  data_dir = args.data_dir or builders.default_data_dir()
  stats = builders.build_dataset(
      args.name, data_dir, manual_dir=args.manual_dir, folder=args.folder,
      resolution=args.resolution, workers=args.workers, overwrite=args.overwrite,
      progress=True, **opts)
  if stats["already_built"]:
    print(f"already built: {stats['path']} (use --overwrite to rebuild)")
  else:
    print(f"built {stats['path']} in {stats['seconds']:.1f} s")
  print(summary(stats))
  return 0

