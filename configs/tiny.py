"""A tiny palette model (widths / 8, 64x64) on the embedded synthetic_cels data.

What the README's demo trains on 2 CPU cores, and what the tests use.
`--config configs/tiny.py:histogram` gives the histogram family instead.
"""

from jaxcolor import config_utils

histogram = config_utils.sibling(__file__, "histogram")
palette = config_utils.sibling(__file__, "palette")
reference = config_utils.sibling(__file__, "reference")


def get_config(family: str = "palette"):
  families = {"palette": palette, "histogram": histogram, "reference": reference}
  if family not in families:
    raise ValueError(f"configs/tiny.py takes 'palette', 'histogram' or 'reference', "
                     f"not {family!r}")
  c = families[family].get_config()
  c.image_size = 64
  c.per_device_batch_size = 8
  c.num_epochs = None
  c.num_train_steps = 600

  m = c.model
  if family == "reference":
    m.widths = (8, 16, 32, 64)
    m.attention_heads = 2
    m.attention_head_dim = 16
    m.reference_side = 64
  elif family == "palette":
    m.widths = (8, 16, 32, 64, 64)
  else:
    m.stem_width = 8
    m.widths = (16, 32, 64, 64)
    m.dropout_levels = 2
  m.norm_groups = 8
  m.disc_widths = (8, 16, 32, 64)

  c.loss.feature_layers = ("relu1_2",)
  c.image_pool_size = 8 if family == "histogram" else 0

  d = c.data
  d.name = "synthetic_cels"
  d.num_workers = 0
  d.crop_scale = (0.6, 1.0)

  c.log_every_steps = 25
  c.sample_every_steps = 100
  c.eval_every_steps = 200
  c.num_eval_examples = 32
  c.checkpoint_every_steps = 200
  c.keep_checkpoints = 2
  return c
