"""The reference family at full size, for accelerators: SCFT-style dense correspondence.

A sketch encoder and a reference encoder; at 1/8 resolution every sketch position attends
over every reference position (4 heads) and the colours and features it finds join the
sketch features on their way through seed 001's decoder (attention gates, noise
injection, GroupNorm + weight standardization as a parameter transform). Spectral-norm
PatchGAN, LSGAN + L1 + VGG + TV, as configs/palette.py, and SCFT's triplet loss on the
attention's queries and keys. The reference is the augmented
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
  # Inference: larger sketches are coloured at this long side (1.5x the training crops, the
  # ratio measured for the CPU starter; not measured at this size).
  m.work_side = 384

  l = c.loss
  # SCFT's similarity-based triplet loss on the attention (weight; 0 = off) and its margin
  # (SCFT's 12): the warp of an augmented-self reference tells which reference position
  # each sketch position should match. Measured on the CPU starter (README, "The triplet
  # loss"): 500 more steps with it placed colours better than 500 without.
  l.triplet = 1.0
  l.triplet_margin = 12.0

  d = c.data
  d.jitter_target = True
  d.max_points = 30
  d.points_none_prob = 0.3
  return c
