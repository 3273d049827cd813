"""The smallest models that still run every part: for the tests, not for colouring.

configs/tiny.py at 32x32 with three levels (palette) or three encoder blocks
(histogram) and narrow layers: every code path of the two families (attention
gates, noise injection, guide decoders, image pool, the CPU forms of
jaxcolor/cpu_paths.py on 4x4 maps) at a fraction of tiny's compile time.
`--config configs/micro.py:histogram` gives the histogram family, `:reference` the
reference family.
"""

from jaxcolor import config_utils

tiny = config_utils.sibling(__file__, "tiny")


def get_config(family: str = "palette"):
  c = tiny.get_config(family)
  c.image_size = 32
  m = c.model
  if family == "reference":
    m.widths = (4, 8, 16, 16)
    m.attention_level = 1
    m.attention_heads = 2
    m.attention_head_dim = 4
    m.reference_side = 32
  elif family == "palette":
    m.widths = (4, 8, 16)
  else:
    m.stem_width = 4
    m.widths = (8, 16, 16)
    m.dropout_levels = 1
  m.norm_groups = 4
  m.disc_widths = (4, 8, 16, 16)
  return c
