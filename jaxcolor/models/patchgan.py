"""70x70 PatchGAN discriminator.

The layers hold plain kernels; spectral normalization is the parameter
transform `transforms.spectral_normalize`, applied to the whole parameter tree
by the caller once per step (`models.normalized_discriminator_params`).
"""

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxcolor import cpu_paths
from jaxcolor.models.layers import group_norm

Dtype = Any


def conv4x4_stride2(x: jax.Array, kernel: jax.Array) -> jax.Array:
  """4x4 conv, stride 2, padding 1, on an NHWC input of even height and width.

  Computed as a 2x2 stride-1 conv of the space-to-depth input: the same sums,
  but its gradients are stride-1 convs too. The direct form's input gradient is
  a conv over a zero-dilated map (3/4 of its multiplications by zero), which
  XLA:CPU runs 1.2-2x slower at the PatchGAN's shapes.
  """
  b, h, w, c = x.shape
  x = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
  h2, w2 = (h + 2) // 2, (w + 2) // 2
  x = x.reshape(b, h2, 2, w2, 2, c).transpose(0, 1, 3, 2, 4, 5).reshape(b, h2, w2, 4 * c)
  # kernel[2i + p, 2j + q] -> k[i, j, (p, q, c)], matching the depth order above.
  k = kernel.reshape(2, 2, 2, 2, c, -1).transpose(0, 2, 1, 3, 4, 5).reshape(2, 2, 4 * c, -1)
  return jax.lax.conv_general_dilated(x, k, (1, 1), "VALID",
                                      dimension_numbers=("NHWC", "HWIO", "NHWC"))


def _conv(lhs, rhs, window_strides, padding, *args, cpu=None, **kwargs):
  """`nn.Conv`'s convolution.

  In its CPU form (`cpu_paths`) the stride-2 4x4 ones on even sizes go to
  `conv4x4_stride2`.
  """
  use_cpu_form = cpu_paths.enabled() if cpu is None else cpu
  if (use_cpu_form and tuple(window_strides) == (2, 2) and rhs.shape[:2] == (4, 4) and
      not args and lhs.shape[1] % 2 == 0 and lhs.shape[2] % 2 == 0 and
      [tuple(p) for p in padding] == [(1, 1), (1, 1)] and
      all(d == 1 for k in ("lhs_dilation", "rhs_dilation") for d in kwargs.get(k) or ())):
    return conv4x4_stride2(lhs, rhs)
  return jax.lax.conv_general_dilated(lhs, rhs, window_strides, padding, *args, **kwargs)


def _conv4x4(features: int, stride: int, dtype: Dtype, name: str) -> nn.Conv:
  return nn.Conv(features, (4, 4), strides=(stride, stride), padding=((1, 1), (1, 1)),
                 dtype=dtype, param_dtype=jnp.float32, kernel_init=nn.initializers.normal(0.02),
                 conv_general_dilated=_conv, name=name)


class PatchGAN(nn.Module):
  """4x4 convs 64(s2) -> 128(s2) -> 256(s2) -> 512(s1) -> 1(s1), LeakyReLU 0.2.

  GroupNorm after convs 2-4 (`use_norm=False` removes it, e.g. to measure the
  receptive field, which GroupNorm's statistics would make global). Input: the
  generator's input (sketch + hint planes) and an image; output: a map of
  logits, 30x30 for a 256x256 input.
  """
  widths: Sequence[int] = (64, 128, 256, 512)
  norm_groups: int = 32
  use_norm: bool = True
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, condition, image):
    x = jnp.concatenate([condition, image], axis=-1).astype(self.dtype)
    strides = (2,) * (len(self.widths) - 1) + (1,)
    for i, (c, s) in enumerate(zip(self.widths, strides)):
      x = _conv4x4(c, s, self.dtype, f"conv{i}")(x)
      if i > 0 and self.use_norm:
        x = group_norm(c, self.norm_groups, self.dtype, f"norm{i}")(x)
      x = nn.leaky_relu(x, 0.2)
    x = _conv4x4(1, 1, self.dtype, "logits")(x)
    return x.astype(jnp.float32)
