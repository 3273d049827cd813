"""The three generator families.

`PaletteUNet` (seed 001): residual U-Net, GroupNorm + weight standardization,
an attention gate on every skip, noise injection before every decoder block,
conditioned on 9 K-means palette planes.

`HistogramUNet` (seed 000): residual U-Net whose decoder un-pools to the
positions the encoder's max-pools picked, attention gates on the skips,
dropout in the deepest up-blocks, and two guide decoders (style2paints v1)
that give the middle layers their own gradient during training.

`ReferenceUNet` (SCFT-style dense correspondence): a sketch encoder and a
reference encoder; at 1/8 resolution every sketch position attends over every
reference position, and what it finds (features and colour) joins the sketch
features on their way through the decoder of `PaletteUNet` (attention gates,
noise injection). Colours are looked up where the reference has them, not
summarised into a palette.

Weight standardization is a parameter transform (`transforms.weight_standardize`)
applied to the whole parameter tree by `nn.map_variables`, so the layers hold
plain kernels.
"""

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxcolor import transforms
from jaxcolor.models.layers import (AttentionGate, NoiseInjection, ReferenceAttention,
                                    ResidualBlock, avg_pool, check_divisible, conv, group_norm,
                                    max_pool_with_indices, max_unpool, upsample_nearest)

Dtype = Any


def _standardized(module_cls, enabled: bool):
  if not enabled:
    return module_cls
  return nn.map_variables(module_cls, "params", trans_in_fn=transforms.weight_standardize,
                          init=True)


def _palette_decoder(skips, x, *, widths, norm_groups, noise, noise_mode, dtype, input_skip,
                     out_extra=None):
  """Seed 001's decoder, from the encoder's outputs `skips` (finest first) to RGB.

  out_extra: full-resolution planes that join the output convolution's input, if any.

  Called inside a compact module: the layers' names are those of `_PaletteBody`.
  """
  w, g, dt = widths, norm_groups, dtype
  skips = list(skips)
  h = skips.pop()
  make_noise = lambda name: (NoiseInjection(noise_mode, name=name) if noise else (lambda t: t))
  h = make_noise("noise_bottleneck")(h)
  h = ResidualBlock(w[-2], g, "up", dt, name="dec_up_bottleneck")(h)
  for i in reversed(range(len(w) - 1)):
    c = w[i]
    skip = AttentionGate(max(c // 2, 1), g, dt, name=f"att{i}")(h, skips[i])
    h = jnp.concatenate([h, skip], axis=-1)
    h = ResidualBlock(c, g, None, dt, name=f"dec{i}")(h)
    h = make_noise(f"noise{i}")(h)
    out_c = w[i - 1] if i > 0 else max(w[0] // 2, 1)
    h = ResidualBlock(out_c, g, "up", dt, name=f"dec_up{i}")(h)
  h = make_noise("noise_out")(h)
  if input_skip:
    # The encoder's first block ends in a pool, so without this no full-resolution
    # feature reaches the output: lines and colour points would come back blurred.
    h = jnp.concatenate([h, x.astype(dt)], axis=-1)
    c = max(w[0] // 2, 1)
    h = nn.relu(group_norm(c, g, dt, "skip_norm")(conv(c, 3, dt, name="skip_conv")(h)))
  if out_extra is not None:
    h = jnp.concatenate([h, out_extra.astype(dt)], axis=-1)
  h = conv(3, 3, dt, use_bias=True, name="out_conv")(h)
  return jnp.tanh(h.astype(jnp.float32))


class _PaletteBody(nn.Module):
  widths: Sequence[int]
  norm_groups: int
  noise: bool
  noise_mode: str
  dtype: Dtype
  input_skip: bool = False

  @nn.compact
  def __call__(self, x):
    skips = []
    h = x.astype(self.dtype)
    for i, c in enumerate(self.widths):
      h = ResidualBlock(c, self.norm_groups, "down", self.dtype, name=f"enc{i}")(h)
      skips.append(h)
    return _palette_decoder(skips, x, widths=self.widths, norm_groups=self.norm_groups,
                            noise=self.noise, noise_mode=self.noise_mode, dtype=self.dtype,
                            input_skip=self.input_skip)


class _ReferenceBody(nn.Module):
  widths: Sequence[int]
  norm_groups: int
  noise: bool
  noise_mode: str
  dtype: Dtype
  input_skip: bool
  attention_level: int
  heads: int
  head_dim: int

  @nn.compact
  def __call__(self, x, reference, with_match: bool = False):
    w, g, dt, level = self.widths, self.norm_groups, self.dtype, self.attention_level
    skips, sketch_feats, ref_feats = [], [], []
    h, r = x.astype(dt), reference.astype(dt)
    for i in range(level + 1):
      h = ResidualBlock(w[i], g, "down", dt, name=f"enc{i}")(h)
      r = ResidualBlock(w[i], g, "down", dt, name=f"ref_enc{i}")(r)
      sketch_feats.append(h)
      ref_feats.append(r)
    # Matching reads every encoder level at the attention's resolution (SCFT), so that
    # fine strokes and coarse shapes both decide what corresponds to what.
    describe = lambda feats: jnp.concatenate(
        [avg_pool(f, 2 ** (level - i)) for i, f in enumerate(feats)], axis=-1)
    stride = 2 ** (level + 1)
    ref_colour = avg_pool(reference.astype(dt), stride)
    ref_values = jnp.concatenate([ref_feats[-1], ref_colour], axis=-1)
    found, colors, *match = ReferenceAttention(self.heads, self.head_dim, w[level], dt,
                                               name="attention")(
        describe(sketch_feats), describe(ref_feats), ref_values, ref_colors=ref_colour,
        with_match=with_match)
    h = ResidualBlock(w[level], g, None, dt, name="fuse")(
        jnp.concatenate([sketch_feats[-1], found], axis=-1))
    skips = sketch_feats[:-1] + [h]
    for i in range(level + 1, len(w)):
      h = ResidualBlock(w[i], g, "down", dt, name=f"enc{i}")(h)
      skips.append(h)
    # The looked-up colours, upsampled, also reach the output layer directly (after the
    # last normalisation): the L1 loss then rewards each match by the colour it brings,
    # which teaches the attention where to look far sooner than through the decoder alone,
    # and an unsure match (a spread of weights) still brings the reference's own colours.
    b, hx, wx = x.shape[:3]
    colors = jax.image.resize(colors, (b, hx, wx, colors.shape[-1]), "bilinear")
    out = _palette_decoder(skips, x, widths=w, norm_groups=g, noise=self.noise,
                           noise_mode=self.noise_mode, dtype=dt, input_skip=self.input_skip,
                           out_extra=colors)
    return (out, *match) if with_match else out


def _no_reference(reference, family):
  if reference is not None:
    raise ValueError(f"the {family} generator reads its hint from input planes; "
                     "a reference image is for the reference family")


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
  def __call__(self, x, reference=None, *, train: bool = False, noise_mode: str = "random",
               with_guides: bool = False):
    del train  # no dropout or batch statistics in this family
    _no_reference(reference, "palette")
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
  def __call__(self, x, reference=None, *, train: bool = False, noise_mode: str = "random",
               with_guides: bool = False):
    del noise_mode  # no noise injection in this family; the argument keeps one signature
    _no_reference(reference, "histogram")
    check_divisible(x.shape[1], x.shape[2], self.stride)
    body = _standardized(_HistogramBody, self.weight_standardization)
    out, guides = body(self.stem_width, tuple(self.widths), self.norm_groups,
                       self.dropout_levels, self.dropout_rate, self.dtype,
                       name="body")(x, train, with_guides)
    return (out, guides) if with_guides else out


class ReferenceUNet(_Strided, nn.Module):
  """SCFT-style generator: input sketch (3) [+ colour points (4)], and a reference image.

  The reference (B, Hr, Wr, 3) in [-1, 1] may have any size whose sides divide by
  2**(attention_level + 1); it need not match the sketch's. A uniform mid-grey reference
  (all zeros) means "no reference": the colour then comes from the points alone.

  Attributes:
    widths: encoder widths, as `PaletteUNet`'s (the input side must divide by
      2**len(widths)).
    attention_level: the encoder level whose output (at 1/2**(level + 1)) looks up the
      reference: 2 = 1/8 resolution.
    heads, head_dim: of the attention.
  """
  widths: Sequence[int] = (64, 128, 256, 512, 512, 512)
  norm_groups: int = 32
  weight_standardization: bool = True
  noise: bool = True
  input_skip: bool = True
  attention_level: int = 2
  heads: int = 4
  head_dim: int = 64
  dtype: Dtype = jnp.float32

  @property
  def reference_stride(self) -> int:
    return 2 ** (self.attention_level + 1)

  @nn.compact
  def __call__(self, x, reference=None, *, train: bool = False, noise_mode: str = "random",
               with_guides: bool = False, with_match: bool = False):
    """`with_guides` returns (output, guides): guides are {} or, `with_match`, the
    attention's queries and keys (see `ReferenceAttention`)."""
    del train
    if reference is None:
      raise ValueError("the reference generator needs a reference image (grey for none)")
    if not 0 <= self.attention_level < len(self.widths) - 1:
      raise ValueError(f"attention_level must be in [0, {len(self.widths) - 2}], "
                       f"got {self.attention_level}")
    check_divisible(x.shape[1], x.shape[2], self.stride)
    check_divisible(reference.shape[1], reference.shape[2], self.reference_stride, "reference")
    body = _standardized(_ReferenceBody, self.weight_standardization)
    out = body(tuple(self.widths), self.norm_groups, self.noise, noise_mode, self.dtype,
               self.input_skip, self.attention_level, self.heads, self.head_dim,
               name="body")(x, reference, with_match=with_guides and with_match)
    if not with_guides:
      return out
    return out if with_match else (out, {})
