"""The two generator families.

`PaletteUNet` (seed 001): residual U-Net, GroupNorm + weight standardization,
an attention gate on every skip, noise injection before every decoder block,
conditioned on 9 K-means palette planes.

`HistogramUNet` (seed 000): residual U-Net whose decoder un-pools to the
positions the encoder's max-pools picked, attention gates on the skips,
dropout in the deepest up-blocks, and two guide decoders (style2paints v1)
that give the middle layers their own gradient during training.

Weight standardization is a parameter transform (`transforms.weight_standardize`)
applied to the whole parameter tree by `nn.map_variables`, so the layers hold
plain kernels.
"""

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxcolor import transforms
from jaxcolor.models.layers import (AttentionGate, NoiseInjection, ResidualBlock,
                                    check_divisible, conv, group_norm, max_pool_with_indices,
                                    max_unpool, upsample_nearest)

Dtype = Any


def _standardized(module_cls, enabled: bool):
  if not enabled:
    return module_cls
  return nn.map_variables(module_cls, "params", trans_in_fn=transforms.weight_standardize,
                          init=True)


class _PaletteBody(nn.Module):
  widths: Sequence[int]
  norm_groups: int
  noise: bool
  noise_mode: str
  dtype: Dtype
  input_skip: bool = False

  @nn.compact
  def __call__(self, x):
    w, g, dt = self.widths, self.norm_groups, self.dtype
    skips = []
    h = x.astype(dt)
    for i, c in enumerate(w):
      h = ResidualBlock(c, g, "down", dt, name=f"enc{i}")(h)
      skips.append(h)
    h = skips.pop()
    noise = lambda name: (NoiseInjection(self.noise_mode, name=name) if self.noise
                          else (lambda t: t))
    h = noise("noise_bottleneck")(h)
    h = ResidualBlock(w[-2], g, "up", dt, name="dec_up_bottleneck")(h)
    for i in reversed(range(len(w) - 1)):
      c = w[i]
      skip = AttentionGate(max(c // 2, 1), g, dt, name=f"att{i}")(h, skips[i])
      h = jnp.concatenate([h, skip], axis=-1)
      h = ResidualBlock(c, g, None, dt, name=f"dec{i}")(h)
      h = noise(f"noise{i}")(h)
      out_c = w[i - 1] if i > 0 else max(w[0] // 2, 1)
      h = ResidualBlock(out_c, g, "up", dt, name=f"dec_up{i}")(h)
    h = noise("noise_out")(h)
    if self.input_skip:
      # The encoder's first block ends in a pool, so without this no full-resolution
      # feature reaches the output: lines and colour points would come back blurred.
      h = jnp.concatenate([h, x.astype(dt)], axis=-1)
      c = max(w[0] // 2, 1)
      h = nn.relu(group_norm(c, g, dt, "skip_norm")(conv(c, 3, dt, name="skip_conv")(h)))
    h = conv(3, 3, dt, use_bias=True, name="out_conv")(h)
    return jnp.tanh(h.astype(jnp.float32))


class _Strided:
  """Both generators: the input side must be divisible by 2**len(widths)."""

  @property
  def stride(self) -> int:
    return 2 ** len(self.widths)


class PaletteUNet(_Strided, nn.Module):
  """Seed 001 generator. Input: sketch (3) + palette planes (27) = 30 channels.

  Attributes:
    widths: encoder widths; each block ends in a stride-2 max-pool, so the
      input side must be divisible by 2**len(widths).
    noise_mode: (call argument) "random" draws from the `noise` PRNG stream, as
      training does; "zero" is the deterministic path of evaluation and inference.
  """
  widths: Sequence[int] = (64, 128, 256, 512, 512, 512, 512)
  norm_groups: int = 32
  weight_standardization: bool = True
  noise: bool = True
  input_skip: bool = False
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x, *, train: bool = False, noise_mode: str = "random",
               with_guides: bool = False):
    del train  # no dropout or batch statistics in this family
    check_divisible(x.shape[1], x.shape[2], self.stride)
    body = _standardized(_PaletteBody, self.weight_standardization)
    out = body(tuple(self.widths), self.norm_groups, self.noise, noise_mode, self.dtype,
               self.input_skip, name="body")(x)
    return (out, {}) if with_guides else out


class _GuideDecoder(nn.Module):
  """Up-samples a feature to full resolution without skips (style2paints guide decoder)."""
  steps: int
  width: int
  out_channels: int
  norm_groups: int
  dtype: Dtype

  @nn.compact
  def __call__(self, h):
    c = self.width
    for i in range(self.steps):
      c = max(c // 2, 16) if i else c
      h = upsample_nearest(h)
      h = conv(c, 3, self.dtype, name=f"conv{i}")(h)
      h = nn.relu(group_norm(c, self.norm_groups, self.dtype, f"norm{i}")(h))
    h = conv(self.out_channels, 3, self.dtype, use_bias=True, name="out_conv")(h)
    return jnp.tanh(h.astype(jnp.float32))


class _HistogramBody(nn.Module):
  stem_width: int
  widths: Sequence[int]
  norm_groups: int
  dropout_levels: int
  dropout_rate: float
  dtype: Dtype

  @nn.compact
  def __call__(self, x, train: bool, with_guides: bool):
    g, dt = self.norm_groups, self.dtype
    h = nn.relu(conv(self.stem_width, 3, dt, name="stem")(x.astype(dt)))
    skips, indices = [], []
    for i, c in enumerate(self.widths):
      h = ResidualBlock(c, g, None, dt, name=f"enc{i}")(h)
      skips.append(h)
      h, idx = max_pool_with_indices(h)
      indices.append(idx)
    h = ResidualBlock(self.widths[-1], g, None, dt, name="bottleneck")(h)
    guides = {}
    n = len(self.widths)
    if with_guides:
      guides["gray"] = _GuideDecoder(n, self.widths[-1], 1, g, dt, name="guide_gray")(h)
    for i in reversed(range(n)):
      h = max_unpool(h, indices[i])
      skip = AttentionGate(max(self.widths[i] // 2, 1), g, dt, name=f"att{i}")(h, skips[i])
      h = jnp.concatenate([h, skip], axis=-1)
      out_c = self.widths[i - 1] if i > 0 else self.stem_width
      h = ResidualBlock(out_c, g, None, dt, name=f"dec{i}")(h)
      if i >= n - self.dropout_levels:
        h = nn.Dropout(self.dropout_rate, deterministic=not train)(h)
      if with_guides and i == n - 1:
        guides["color"] = _GuideDecoder(n - 1, out_c, 3, g, dt, name="guide_color")(h)
    h = conv(3, 3, dt, use_bias=True, name="out_conv")(nn.relu(h))
    return jnp.tanh(h.astype(jnp.float32)), guides


class HistogramUNet(_Strided, nn.Module):
  """Seed 000 generator. Input: sketch (3) + histogram images (12) = 15 channels.

  With `with_guides=True` (training) returns (output, {"gray": ..., "color": ...}):
  guide 1 reads the last encoder feature and predicts the grayscale target,
  guide 2 reads the first decoder block and predicts the colour target, both
  at full resolution. Dropout uses the `dropout` PRNG stream when `train`.
  """
  stem_width: int = 64
  widths: Sequence[int] = (128, 256, 512, 512, 512, 512)
  norm_groups: int = 32
  weight_standardization: bool = True
  dropout_levels: int = 3
  dropout_rate: float = 0.5
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x, *, train: bool = False, noise_mode: str = "random",
               with_guides: bool = False):
    del noise_mode  # no noise injection in this family; the argument keeps one signature
    check_divisible(x.shape[1], x.shape[2], self.stride)
    body = _standardized(_HistogramBody, self.weight_standardization)
    out, guides = body(self.stem_width, tuple(self.widths), self.norm_groups,
                       self.dropout_levels, self.dropout_rate, self.dtype,
                       name="body")(x, train, with_guides)
    return (out, guides) if with_guides else out
