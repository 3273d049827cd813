"""jaxcolor: reference-based sketch colorization in JAX/Flax.

`from jaxcolor import Colorizer` loads inference only (no data pipeline or trainer).
"""


def __getattr__(name):
  # Lazy, so that `import jaxcolor` (and `jaxcolor --help`) does not import JAX.
  if name == "Colorizer":
    from jaxcolor.infer import Colorizer  # pylint: disable=g-import-not-at-top
    return Colorizer
  raise AttributeError(f"module 'jaxcolor' has no attribute {name!r}")
