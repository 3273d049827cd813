"""The starter model that ships inside the package: trained on a 2-core CPU in about 2 hours.

Palette family (seed 001) at 128x128 crops of 256x256 drawings, slimmed to widths
32..256 so that it trains on a CPU and colours a 512x512 sketch in well under a
second. Everything that the grey-collapse study (docs/GREY.md) found to help is on:
the target shares the reference's colour jitter, colour points, a full-resolution
input skip, and XDoG sketches beside the drawn line art.

  make starter            # fetch the data, build it, train, export the weights
  jaxcolor train --config configs/starter.py --workdir runs/starter
"""

from jaxcolor import config_utils

palette = config_utils.sibling(__file__, "palette")


def get_config():
  c = palette.get_config()
  c.image_size = 128
  c.per_device_batch_size = 8
  c.num_epochs = None
  c.num_train_steps = 6000

  m = c.model
  m.widths = (32, 64, 128, 256, 256)
  m.norm_groups = 8
  m.disc_widths = (32, 64, 128, 256)
  m.points = True
  m.input_skip = True
  m.work_side = 192  # inference: see configs/reference_starter.py

  l = c.loss
  l.feature_layers = ("relu1_2",)

  d = c.data
  d.name = "anime_sketch_colorization_pair"
  d.builder_kwargs.resolution = 256
  d.builder_kwargs.tag = "starter"
  d.num_workers = 1
  d.crop_scale = (0.35, 1.0)
  d.jitter_target = True
  d.xdog_prob = 0.25
  d.max_points = 16
  d.points_none_prob = 0.35

  c.log_every_steps = 50
  c.sample_every_steps = 500
  c.eval_every_steps = 500
  c.num_eval_examples = 64
  c.checkpoint_every_steps = 250
  c.keep_checkpoints = 2
  return c
