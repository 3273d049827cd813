"""Seed 000: histogram-conditioned residual attention U-Net with guide decoders.

Vanilla GAN + 100 * (L1 + 0.3 guide-gray L1 + 0.9 guide-colour L1), image
pool of 50 fakes, Adam 2e-4 (0.5, 0.999), 512x512, batch 4, 15 epochs.

  jaxcolor train --config configs/histogram.py --workdir runs/histogram
"""

from jaxcolor import config_utils

palette = config_utils.sibling(__file__, "palette")


def get_config():
  c = palette.get_config()
  c.image_size = 512
  c.per_device_batch_size = 4
  c.num_epochs = 15

  m = c.model
  m.family = "histogram"
  m.hint = "histogram"
  m.stem_width = 64
  m.widths = (128, 256, 512, 512, 512, 512)
  m.noise = False
  m.dropout_levels = 3
  m.spectral_norm = False  # seed 000's PatchGAN is the plain pix2pix one

  l = c.loss
  l.gan = "vanilla"
  l.guide_gray = 0.3
  l.guide_color = 0.9
  l.feature = 0.0
  l.tv = 0.0

  c.image_pool_size = 50
  c.data.crop_scale = (0.7, 1.0)
  return c
