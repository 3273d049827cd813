"""One switch for the ops that are written differently for XLA:CPU.

Five ops have a form that XLA:CPU runs several times faster than the plain
one, and a plain form that accelerators compile well and that reads as the
textbook op. Both compute the same values (tests/test_cpu_paths.py checks
each pair on CPU); `enabled()` picks the CPU form when JAX's default backend
is the CPU, so a GPU or TPU run traces only the plain forms. Why each exists:

- GroupNorm statistics (`models.layers.GroupNorm`): XLA:CPU reduces over one
  axis 2-3x faster than over (H, W, channels in group); an optimization
  barrier keeps it from folding the reshape back into a multi-axis reduction.
- Weight standardization (`transforms.standardize_kernel`): the same barrier
  around the kernel's (kh*kw*in, out) view; 2-4x faster reductions.
- Convolutions on 2x2 and 4x4 maps (`models.layers.conv`): one im2col matrix
  product; XLA:CPU's convolution runs these matrix-vector-like shapes at a few
  GFLOP/s (2x2, 512->512: 22 ms forward and backward against 2.4 ms).
- The palette U-Net's 3x3 stride-2 max-pool (`models.layers.max_pool_3x3`):
  separable, with a custom VJP from the int8 index of each window's winner;
  XLA:CPU lowers the `reduce_window` gradient to an index search and scatter.
- The PatchGAN's 4x4 stride-2 convolutions (`models.patchgan`): a 2x2 stride-1
  convolution of the space-to-depth input, whose input gradient avoids the
  zero-dilated map of the direct form (1.2-2x faster on XLA:CPU).
"""

import jax


def enabled() -> bool:
  """Whether ops being traced now should take their CPU form."""
  return jax.default_backend() == "cpu"
