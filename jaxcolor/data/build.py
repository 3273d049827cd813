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

import argparse
import logging
import os
import pathlib
import sys

from jaxcolor.data import builders
from jaxcolor.errors import UserError


def default_data_dir() -> str:
  return os.environ.get("JAXCOLOR_DATA_DIR") or str(pathlib.Path("~/jaxcolor_datasets").expanduser())


def data_dir_of(config) -> str:
  """config.data.data_dir if set, else $JAXCOLOR_DATA_DIR, else ~/jaxcolor_datasets."""
  configured = config.data.get("data_dir", "") if config is not None else ""
  return str(pathlib.Path(configured).expanduser()) if configured else default_data_dir()


def add_arguments(parser: argparse.ArgumentParser) -> None:
  """Adds the `data build` arguments to parser."""
  parser.add_argument("name", choices=sorted(builders.BUILDERS), help="dataset to build")
  source = parser.add_mutually_exclusive_group()
  source.add_argument("--manual-dir", help="Kaggle download folder (anime_sketch_colorization_pair)")
  source.add_argument("--folder", help="folder of colour images (image_folder)")
  parser.add_argument("--data-dir", default=None,
                      help="where prepared datasets live (default: $JAXCOLOR_DATA_DIR "
                           "or ~/jaxcolor_datasets)")
  parser.add_argument("--resolution", type=int, default=None,
                      help="stored side length (default: 512 Kaggle, 256 otherwise; "
                           "image_folder 0 keeps the original size)")
  parser.add_argument("--sketch-method", choices=("xdog", "hed"), default=None,
                      help="sketch extractor for image_folder (default xdog)")
  parser.add_argument("--val-percent", type=int, default=None,
                      help="image_folder: share of files put in val (default 5)")
  parser.add_argument("--tag", default=None,
                      help="image_folder: name this build (config name suffix), e.g. to "
                           "keep two folders in one data dir")
  parser.add_argument("--num-train", type=int, default=None, help="synthetic_cels train size")
  parser.add_argument("--num-val", type=int, default=None, help="synthetic_cels val size")
  parser.add_argument("--limit", type=int, default=None,
                      help="read at most N source files (a trial build; its own config)")
  parser.add_argument("--workers", type=int, default=None,
                      help="build processes (default: one per CPU, at most 8)")
  parser.add_argument("--overwrite", action="store_true", help="rebuild if already built")


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
  data_dir = args.data_dir or default_data_dir()
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


def main(argv=None) -> int:
  """Stand-alone entry (the jaxcolor CLI wires add_arguments/run itself)."""
  parser = argparse.ArgumentParser(prog="jaxcolor data build", description=__doc__.splitlines()[0])
  add_arguments(parser)
  args = parser.parse_args(argv)
  try:
    return run(args)
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2


if __name__ == "__main__":
  sys.exit(main())
