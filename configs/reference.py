"""The reference family at full size, for accelerators: SCFT-style dense correspondence.

A sketch encoder and a reference encoder; at 1/8 resolution every sketch position attends
over every reference position (4 heads) and the colours and features it finds join the
sketch features on their way through seed 001's decoder (attention gates, noise
injection, GroupNorm + weight standardization as a parameter transform). Spectral-norm
PatchGAN, LSGAN + L1 + VGG + TV, as configs/palette.py. The reference is the augmented
self (colour jitter + thin-plate-spline warp) or, on character data, another drawing of
the same character.

  jaxcolor train --config configs/reference.py --workdir runs/reference
"""

from jaxcolor import config_utils

palette = config_utils.sibling(__file__, "palette")


def get_config():
  c = palette.get_config()
  m = c.model
  m.family = "reference"
  m.hint = "reference"
  m.widths = (64, 128, 256, 512, 512, 512)
  m.input_skip = True
  m.points = True
  m.attention_level = 2  # 1/8 resolution
  m.attention_heads = 4
  m.attention_head_dim = 64
  m.reference_side = 256  # inference: the long side a user's reference is seen at

  d = c.data
  d.jitter_target = True
  d.max_points = 30
  d.points_none_prob = 0.3
  return c
