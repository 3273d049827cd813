"""70x70 PatchGAN discriminator.

The layers hold plain kernels; spectral normalization is the parameter
transform `transforms.spectral_normalize`, applied by the caller once per step
(see `jaxcolor.models.discriminator_apply`).
"""

from typing import Any, Sequence

import flax.linen as nn
import jax.numpy as jnp

from jaxcolor.models.layers import group_norm

Dtype = Any


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
      x = nn.Conv(c, (4, 4), strides=(s, s), padding=((1, 1), (1, 1)), dtype=self.dtype,
                  param_dtype=jnp.float32, kernel_init=nn.initializers.normal(0.02),
                  name=f"conv{i}")(x)
      if i > 0 and self.use_norm:
        x = group_norm(c, self.norm_groups, self.dtype, f"norm{i}")(x)
      x = nn.leaky_relu(x, 0.2)
    x = nn.Conv(1, (4, 4), padding=((1, 1), (1, 1)), dtype=self.dtype, param_dtype=jnp.float32,
                kernel_init=nn.initializers.normal(0.02), name="logits")(x)
    return x.astype(jnp.float32)
