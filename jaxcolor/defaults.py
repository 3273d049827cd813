"""Defaults that both the command line and the library use, importable without JAX.

`jaxcolor --help` shows them without importing the modules that run the
commands (JAX, TensorFlow Datasets, ...); those modules read them from here.
"""

# Inference (`jaxcolor colorize`, `Colorizer`).
# The models that ship in the package (starter.MODELS) and the one used by default.
BUNDLED_MODELS = ("palette", "reference")
DEFAULT_MODEL = "reference"
MAX_SIDE = 1024  # sketches are coloured at most this long side unless asked
COLORIZE_OUT_DIR = "colorized"
# What colour points do: "fill" (each dot colours its closed region; with a reference or
# palette the network colours from that alone) or "model" (the network reads the dots).
DOT_MODES = ("fill", "model")
DEFAULT_DOTS = "fill"

# `jaxcolor serve`.
SERVE_HOST = "127.0.0.1"
SERVE_PORT = 7860
SERVE_MAX_BYTES = 10 * 1024 * 1024
SERVE_MAX_PIXELS = 4096 * 4096

# `jaxcolor bench`.
BENCH_CONFIG = "configs/palette.py"
BENCH_WHATS = ("train", "infer", "data", "hints", "colorize", "regions", "all")

# `jaxcolor data build NAME`: the names of jaxcolor.data.builders.BUILDERS.
DATASETS = ("anime_sketch_colorization_pair", "image_folder", "synthetic_cels")
