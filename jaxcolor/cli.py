"""`jaxcolor`: one command line with subcommands.

  jaxcolor demo                                   colour bundled sketches with the starter
  jaxcolor train --config configs/tiny.py --workdir runs/tiny [--config.seed=1 ...]
  jaxcolor colorize sketch.png --reference ref.png --checkpoint runs/tiny
  jaxcolor palette ref.png
  jaxcolor serve [--checkpoint runs/tiny]          a local web page at http://127.0.0.1:7860/
  jaxcolor evaluate --checkpoint runs/tiny
  jaxcolor data build synthetic_cels
  jaxcolor bench --config configs/palette.py

User mistakes end as one line `error: ...` on stderr with exit code 2.
"""

import argparse
import logging
import os
import sys

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
  _add_distributed(p)
  p.set_defaults(func=_run_train, takes_overrides=True)


def _add_distributed(p):
  g = p.add_argument_group("multi-host (auto-detected under SLURM, Cloud TPU, Open MPI)")
  g.add_argument("--coordinator", help="host:port of process 0")
  g.add_argument("--num-processes", type=int)
  g.add_argument("--process-id", type=int)
  g.add_argument("--local-devices", help="comma-separated local device ids for this process")


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


def _documented(sub, name, module, help_text):
  """A subcommand whose --help shows its module's docstring as written."""
  return sub.add_parser(name, help=help_text, description=module.__doc__,
                        formatter_class=argparse.RawDescriptionHelpFormatter)


def _module_command(sub, name, module, help_text):
  """A documented subcommand run by `module.run(args)`, its flags from `module.add_arguments`."""
  p = _documented(sub, name, module, help_text)
  module.add_arguments(p)
  p.set_defaults(func=lambda a, o: module.run(a))
  return p


def _add_demo(sub):
  p = sub.add_parser("demo", help="colour the bundled sketches with the starter model "
                     "(about a minute on a CPU); --train: train the tiny model first")
  p.add_argument("--workdir", default="runs/demo")
  p.add_argument("--checkpoint", default=None,
                 help="colour with this training run instead of the starter")
  p.add_argument("--train", action="store_true",
                 help="the long tour: train configs/tiny.py on synthetic cels, colour "
                      "held-out sketches and evaluate (several minutes)")
  p.add_argument("--steps", type=int, default=None,
                 help="--train: training steps (default: config)")
  p.set_defaults(func=_run_demo, takes_overrides=True)


def _run_demo(args, overrides):
  from jaxcolor import demo  # pylint: disable=g-import-not-at-top
  if not args.train:
    if overrides or args.steps is not None:
      raise UserError("--steps and --config.* overrides apply to demo --train only")
    return demo.run_starter(args.workdir, args.checkpoint)
  return demo.run(args.workdir, steps=args.steps, overrides=overrides)


def _add_data(sub):
  p = sub.add_parser("data", help="build datasets (tfds array_record)")
  dsub = p.add_subparsers(dest="data_command", metavar="{build,starter}")
  dsub.required = True
  from jaxcolor.data import build  # pylint: disable=g-import-not-at-top
  _module_command(dsub, "build", build, "build a dataset: anime_sketch_colorization_pair, "
                  "image_folder or synthetic_cels")
  from jaxcolor.data import starter_data  # pylint: disable=g-import-not-at-top
  _module_command(dsub, "starter", starter_data, "fetch (npm, apt-get), render and build the "
                  "starter model's training pairs")


def _add_export(sub):
  p = sub.add_parser("export", help="write a training run's generator as the bundled "
                     "starter weights (float16)")
  p.add_argument("--checkpoint", required=True, metavar="PATH", help="training workdir")
  p.add_argument("--step", type=int, default=None, help="checkpoint step (default latest)")
  p.add_argument("--out", default=None,
                 help="weights folder (default: the package's jaxcolor/weights/starter)")
  p.set_defaults(func=_run_export)


def _run_export(args, overrides):
  del overrides
  from jaxcolor import starter  # pylint: disable=g-import-not-at-top
  info = starter.export(args.checkpoint, args.out or starter.WEIGHTS_DIR, step=args.step)
  print(f"exported step {info['step']}: {info['params']:,} parameters, "
        f"{info['bytes'] / 2**20:.1f} MiB, to {args.out or starter.WEIGHTS_DIR}")
  return 0


def _add_infer(sub):
  from jaxcolor import infer  # pylint: disable=g-import-not-at-top
  c = _documented(sub, "colorize", infer,
                  "colour sketches with a reference image, a palette or colour points")
  infer.add_colorize_arguments(c)
  c.set_defaults(func=lambda a, o: infer.run_colorize(a))
  p = sub.add_parser("palette", help="show the colours a reference gives the model")
  infer.add_palette_arguments(p)
  p.set_defaults(func=lambda a, o: infer.run_palette(a))


def _add_serve(sub):
  from jaxcolor import serve  # pylint: disable=g-import-not-at-top
  _module_command(sub, "serve", serve,
                  "a local web page to colour sketches (pip install 'jaxcolor[serve]')")


def _add_evaluate(sub):
  from jaxcolor import evaluate  # pylint: disable=g-import-not-at-top
  p = sub.add_parser("evaluate", help="PSNR / SSIM / perceptual / colour fidelity of a "
                     "checkpoint against baselines")
  evaluate.add_arguments(p)
  p.set_defaults(func=lambda a, o: evaluate.run(a))


def _add_bench(sub):
  from jaxcolor import bench  # pylint: disable=g-import-not-at-top
  p = sub.add_parser("bench", help="time the train step, inference, data pipeline, hints")
  bench.add_arguments(p)
  # Its compile times are the cold ones unless $JAX_COMPILATION_CACHE_DIR asks otherwise.
  p.set_defaults(func=bench.run, takes_overrides=True, compile_cache=False)


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


def main(argv=None) -> int:
  if argv is None and "--no-host-tuning" not in sys.argv:
    # Only for a real command line: it may re-execute the process (jaxcolor/host.py).
    host.tune_cpu_host(restart=True)
  from jaxcolor import config_utils  # pylint: disable=g-import-not-at-top
  argv = sys.argv[1:] if argv is None else list(argv)
  try:
    rest, overrides = config_utils.split_overrides(argv)
    parser = build_parser()
    args = parser.parse_args(rest)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("absl", "jax._src.xla_bridge", "orbax"):
      logging.getLogger(noisy).setLevel(logging.ERROR)
    if overrides and not getattr(args, "takes_overrides", False):
      parser.error(f"{args.command} takes no --config.* overrides")
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
