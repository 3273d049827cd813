"""Building blocks shared by the generators and the discriminator (NHWC)."""

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from jaxcolor import cpu_paths

Dtype = Any


def num_groups(channels: int, max_groups: int) -> int:
  """The largest divisor of `channels` not above `max_groups` (GroupNorm(32) on narrow layers)."""
  g = max(1, min(max_groups, channels))
  while channels % g:
    g -= 1
  return g


def group_stats(x, groups: int, cpu: bool | None = None):
  """NHWC `x` as a (B, H*W, C) view in at least float32, and its per-group statistics.

  Returns (view, mean, mean of squares), the statistics (B, groups) over H, W
  and the group's channels. The CPU form (`cpu_paths`) reduces over one axis of
  the view, then over the group's channels; its barrier keeps XLA from folding
  the reshape back into a multi-axis reduction.
  """
  b, c = x.shape[0], x.shape[-1]
  xr = x.astype(jnp.promote_types(x.dtype, jnp.float32)).reshape(b, -1, c)
  if cpu_paths.enabled() if cpu is None else cpu:
    xr = jax.lax.optimization_barrier(xr)
    mean = jnp.mean(jnp.mean(xr, axis=1).reshape(b, groups, -1), axis=-1)
    mean2 = jnp.mean(jnp.mean(xr * xr, axis=1).reshape(b, groups, -1), axis=-1)
    return xr, mean, mean2
  xg = xr.reshape(b, -1, groups, c // groups)
  return xr, jnp.mean(xg, axis=(1, 3)), jnp.mean(xg * xg, axis=(1, 3))


class GroupNorm(nn.Module):
  """`nn.GroupNorm` for NHWC inputs: the same parameters ("scale", "bias") and outputs.

  Its statistics come from `group_stats`, whose CPU form XLA:CPU runs 2-3x
  faster than `nn.GroupNorm`'s, in the forward and the backward pass.
  """
  num_groups: int = 32
  epsilon: float = 1e-5
  use_scale: bool = True
  use_bias: bool = True
  dtype: Dtype | None = None
  param_dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    c, g = x.shape[-1], self.num_groups
    if g <= 0 or c % g:
      raise ValueError(f"number of groups ({g}) does not divide the number of channels ({c})")
    xr, mean, mean2 = group_stats(x, g)
    var = jnp.maximum(0.0, mean2 - mean * mean)  # E[x^2] - E[x]^2, as nn.GroupNorm
    mean = jnp.repeat(mean, c // g, axis=-1)[:, None, :]
    mul = jnp.repeat(jax.lax.rsqrt(var + self.epsilon), c // g, axis=-1)[:, None, :]
    args = [x]
    if self.use_scale:
      scale = self.param("scale", nn.initializers.ones, (c,), self.param_dtype)
      mul = mul * scale
      args.append(scale)
    y = (xr - mean) * mul
    if self.use_bias:
      bias = self.param("bias", nn.initializers.zeros, (c,), self.param_dtype)
      y = y + bias
      args.append(bias)
    dtype = self.dtype if self.dtype is not None else jnp.result_type(*args)
    return y.reshape(x.shape).astype(dtype)


def group_norm(channels: int, max_groups: int, dtype: Dtype, name=None) -> GroupNorm:
  return GroupNorm(num_groups=num_groups(channels, max_groups), epsilon=1e-5,
                   dtype=dtype, param_dtype=jnp.float32, name=name)


SMALL_MAP_PIXELS = 16  # at most 4x4: see `_conv_small_maps_as_matmul`


def _conv_small_maps_as_matmul(lhs, rhs, window_strides, padding, lhs_dilation=None,
                               rhs_dilation=None, dimension_numbers=None,
                               feature_group_count=1, precision=None, *, cpu=None, **kwargs):
  """`lax.conv_general_dilated`; in its CPU form, one matrix product on tiny feature maps.

  At the U-Net's innermost levels (2x2 and 4x4 maps, 512-1024 channels) the
  convolution is a matrix-vector-like product with a large kernel. XLA:CPU's
  convolution runs it at a few GFLOP/s (2x2, 512->512: 22 ms forward and
  backward, against 2.4 ms for im2col + dot; 4x4, 1024->512: 12 against 6 ms).
  From 8x8 up XLA's convolution is as fast or faster, so other shapes, and
  anything but a stride-1 "SAME" NHWC/HWIO convolution, go to it, as do all
  shapes off the CPU (`cpu_paths`).
  """
  kh, kw, cin, cout = rhs.shape
  nhwc = lax.conv_dimension_numbers(lhs.shape, rhs.shape, ("NHWC", "HWIO", "NHWC"))
  same = [((k - 1) // 2, k // 2) for k in (kh, kw)]
  plain = (lhs.ndim == 4 and dimension_numbers == nhwc and feature_group_count == 1 and
           not kwargs and all(s == 1 for s in window_strides) and
           all(d == 1 for d in (lhs_dilation or (1, 1)) + (rhs_dilation or (1, 1))) and
           (padding == "SAME" or [tuple(p) for p in padding] == same))
  use_cpu_form = cpu_paths.enabled() if cpu is None else cpu
  if not use_cpu_form or not plain or lhs.shape[1] * lhs.shape[2] > SMALL_MAP_PIXELS:
    return lax.conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation,
                                    rhs_dilation, dimension_numbers, feature_group_count,
                                    precision=precision, **kwargs)
  b, h, w, _ = lhs.shape
  x = jnp.pad(lhs, ((0, 0), same[0], same[1], (0, 0)))
  # Columns ordered (kh, kw, in), the row order of the HWIO kernel as a matrix.
  cols = jnp.concatenate([x[:, i:i + h, j:j + w, :] for i in range(kh) for j in range(kw)], -1)
  y = jnp.dot(cols.reshape(b * h * w, kh * kw * cin), rhs.reshape(kh * kw * cin, cout),
              precision=precision)
  return y.reshape(b, h, w, cout)


def conv(features: int, kernel: int, dtype: Dtype, *, use_bias: bool = False, stride: int = 1,
         padding="SAME", name=None) -> nn.Conv:
  # PyTorch-style fan-in uniform init keeps activations in range without batch norm.
  return nn.Conv(features, (kernel, kernel), strides=(stride, stride), padding=padding,
                 use_bias=use_bias, dtype=dtype, param_dtype=jnp.float32,
                 kernel_init=nn.initializers.variance_scaling(1 / 3, "fan_in", "uniform"),
                 conv_general_dilated=_conv_small_maps_as_matmul, name=name)


def _pairs(x: jax.Array, axis: int):
  n = x.shape[axis]
  p = x.reshape(x.shape[:axis] + (n // 2, 2) + x.shape[axis + 1:])
  return (jax.lax.index_in_dim(p, 0, axis + 1, keepdims=False),
          jax.lax.index_in_dim(p, 1, axis + 1, keepdims=False))


def _shift(a: jax.Array, axis: int, by: int, fill=0.0) -> jax.Array:
  """out[i] = a[i - by] along `axis` (by = +1 or -1), `fill` where that is outside."""
  n = a.shape[axis]
  pad = [(0, 0)] * a.ndim
  pad[axis] = (1, 0) if by > 0 else (0, 1)
  kept = jax.lax.slice_in_dim(a, 0, n - 1, axis=axis) if by > 0 else jax.lax.slice_in_dim(
      a, 1, n, axis=axis)
  return jnp.pad(kept, pad, constant_values=fill)


def _max3_s2(x: jax.Array, axis: int):
  """Max over the windows {2i-1, 2i, 2i+1} of `axis` (even length), and which one won (0-2).

  The first of equal maxima wins.
  """
  even, odd = _pairs(x, axis)
  best = _shift(odd, axis, 1, -jnp.inf)  # element 2i-1; padding for i = 0
  which = jnp.zeros(best.shape, jnp.int8)
  for code, cand in ((1, even), (2, odd)):
    which = jnp.where(cand > best, jnp.int8(code), which)
    best = jnp.maximum(best, cand)
  return best, which


def _max3_s2_grad(g: jax.Array, which: jax.Array, axis: int) -> jax.Array:
  """The cotangent of `_max3_s2`'s input: each window's cotangent goes to its winner."""
  pick = lambda code: jnp.where(which == code, g, jnp.zeros((), g.dtype))
  even = pick(1)
  odd = pick(2) + _shift(pick(0), axis, -1)  # window i + 1 starts at element 2i+1
  out = jnp.stack([even, odd], axis + 1)
  return out.reshape(out.shape[:axis] + (-1,) + out.shape[axis + 2:])


@jax.custom_vjp
def _max_pool_3x3_even(x: jax.Array) -> jax.Array:
  return _max3_s2(_max3_s2(x, 1)[0], 2)[0]


def _max_pool_fwd(x):
  rows, which_row = _max3_s2(x, 1)
  out, which_col = _max3_s2(rows, 2)
  return out, (which_row, which_col)


def _max_pool_bwd(res, g):
  which_row, which_col = res
  return (_max3_s2_grad(_max3_s2_grad(g, which_col, 2), which_row, 1),)


_max_pool_3x3_even.defvjp(_max_pool_fwd, _max_pool_bwd)


def max_pool_3x3(x: jax.Array, cpu: bool | None = None) -> jax.Array:
  """3x3 max-pool, stride 2, padding 1 (the palette family's down-sampling).

  On even sizes it is computed separably (rows, then columns) from reshapes and
  element-wise maxima, and its gradient from the int8 index of each window's
  winner: the same outputs as `nn.max_pool`, with a backward pass several times
  faster on CPU, where XLA lowers the `reduce_window` gradient to an index
  search and a scatter, and autodiff of `jnp.maximum` re-evaluates the forward
  pass to split ties. Where a window holds several equal maxima, one of them
  takes the window's whole gradient (as in PyTorch; the first column, then the
  first row, of the window), where `jnp.maximum` would split it. Off the CPU
  (`cpu_paths`) it is `nn.max_pool`.
  """
  if not (cpu_paths.enabled() if cpu is None else cpu) or x.shape[1] % 2 or x.shape[2] % 2:
    return nn.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))
  return _max_pool_3x3_even(x)


def upsample_nearest(x: jax.Array) -> jax.Array:
  """Nearest-neighbour x2, as a broadcast (cheaper than jax.image.resize)."""
  b, h, w, c = x.shape
  x = jnp.broadcast_to(x[:, :, None, :, None, :], (b, h, 2, w, 2, c))
  return x.reshape(b, 2 * h, 2 * w, c)


def max_pool_with_indices(x: jax.Array):
  """2x2 max-pool returning the pooled map and the argmax position (0..3) of each window."""
  b, h, w, c = x.shape
  win = x.reshape(b, h // 2, 2, w // 2, 2, c).transpose(0, 1, 3, 5, 2, 4)
  win = win.reshape(b, h // 2, w // 2, c, 4)
  idx = jnp.argmax(win, axis=-1)
  return jnp.max(win, axis=-1), idx


def max_unpool(x: jax.Array, idx: jax.Array) -> jax.Array:
  """Inverse of `max_pool_with_indices`: each value goes back to its window's argmax, zeros elsewhere."""
  b, h, w, c = x.shape
  onehot = jax.nn.one_hot(idx, 4, dtype=x.dtype)  # (b, h, w, c, 4)
  win = (x[..., None] * onehot).reshape(b, h, w, c, 2, 2).transpose(0, 1, 4, 2, 5, 3)
  return win.reshape(b, 2 * h, 2 * w, c)


class ResidualBlock(nn.Module):
  """conv3x3 -> GN -> ReLU -> conv3x3 -> GN, plus a shortcut, ReLU, optional resampling.

  The 1x1 shortcut (conv + GN) exists only when the widths differ.
  """
  features: int
  norm_groups: int = 32
  sample: str | None = None  # None | "down" (3x3 max-pool) | "up" (nearest x2)
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x):
    residual = x
    if x.shape[-1] != self.features:
      residual = conv(self.features, 1, self.dtype, name="shortcut_conv")(x)
      residual = group_norm(self.features, self.norm_groups, self.dtype, "shortcut_norm")(residual)
    y = conv(self.features, 3, self.dtype, name="conv1")(x)
    y = nn.relu(group_norm(self.features, self.norm_groups, self.dtype, "norm1")(y))
    y = conv(self.features, 3, self.dtype, name="conv2")(y)
    y = group_norm(self.features, self.norm_groups, self.dtype, "norm2")(y)
    y = nn.relu(y + residual)
    if self.sample == "down":
      y = max_pool_3x3(y)
    elif self.sample == "up":
      y = upsample_nearest(y)
    elif self.sample is not None:
      raise ValueError(f"unknown sample mode {self.sample!r}")
    return y


class AttentionGate(nn.Module):
  """Additive attention gate (Oktay et al. 2018): scales the skip `x` by a map computed from `g`."""
  inter_features: int
  norm_groups: int = 32
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, g, x):
    g1 = conv(self.inter_features, 1, self.dtype, use_bias=True, name="gate_conv")(g)
    g1 = group_norm(self.inter_features, self.norm_groups, self.dtype, "gate_norm")(g1)
    x1 = conv(self.inter_features, 1, self.dtype, use_bias=True, name="skip_conv")(x)
    x1 = group_norm(self.inter_features, self.norm_groups, self.dtype, "skip_norm")(x1)
    psi = conv(1, 1, self.dtype, use_bias=True, name="psi_conv")(nn.relu(g1 + x1))
    # Instance norm of the one-channel map, without affine parameters.
    psi = GroupNorm(num_groups=1, use_scale=False, use_bias=False, dtype=self.dtype,
                    name="psi_norm")(psi)
    return x * nn.sigmoid(psi)


class NoiseInjection(nn.Module):
  """x + w[c] * n with n ~ N(0, 1) of shape (B, H, W, 1); w starts at zero.

  `mode="random"` draws n from the caller's `noise` PRNG stream; `mode="zero"`
  is the deterministic inference path (n = 0).
  """
  mode: str = "random"

  @nn.compact
  def __call__(self, x):
    w = self.param("weight", nn.initializers.zeros, (x.shape[-1],), jnp.float32)
    if self.mode == "zero":
      return x
    if self.mode != "random":
      raise ValueError(f"unknown noise mode {self.mode!r}")
    n = jax.random.normal(self.make_rng("noise"), x.shape[:-1] + (1,), jnp.float32)
    return x + (w * n).astype(x.dtype)


def check_divisible(h: int, w: int, stride: int, what: str = "input"):
  if h % stride or w % stride:
    raise ValueError(
        f"{what} size {h}x{w} is not divisible by the model's stride {stride}: "
        f"pad or resize to a multiple of {stride} (e.g. "
        f"{math.ceil(h / stride) * stride}x{math.ceil(w / stride) * stride})")


# Queries per block of `attend`: bounds the logits held at once to this many rows, so a
# 4096-px sketch needs no more memory for them than a 512-px one.
ATTENTION_QUERY_BLOCK = 4096


def attend(q, k, v, key_mask=None, block: int = ATTENTION_QUERY_BLOCK):
  """Scaled dot-product attention, (B, Q, heads, d) x (B, K, heads, d) -> (B, Q, heads, dv).

  Logits and softmax are float32 whatever the inputs' dtype. `key_mask` (B, K), 1 = a
  real reference position: masked keys get no weight, so what lies under them (padding)
  cannot change the result. Queries are independent, so they are processed `block` at a
  time (a `lax.map` over blocks) when there are more: the result is the same.
  """
  b, nq, heads, d = q.shape
  scale = 1.0 / math.sqrt(d)
  bias = None
  if key_mask is not None:
    bias = jnp.where(key_mask[:, None, None, :] > 0, 0.0, -1e30).astype(jnp.float32)

  def one(qb):
    logits = jnp.einsum("bqhd,bkhd->bhqk", qb, k,
                        preferred_element_type=jnp.float32) * scale
    if bias is not None:
      logits = logits + bias
    weights = jax.nn.softmax(logits, axis=-1).astype(v.dtype)
    return jnp.einsum("bhqk,bkhd->bqhd", weights, v)

  if nq <= block:
    return one(q)
  pad = -nq % block
  qp = jnp.pad(q, ((0, 0), (0, pad), (0, 0), (0, 0)))
  blocks = qp.reshape(b, -1, block, heads, d).transpose(1, 0, 2, 3, 4)
  out = jax.lax.map(one, blocks)
  out = out.transpose(1, 0, 2, 3, 4).reshape(b, nq + pad, heads, v.shape[-1])
  return out[:, :nq]


class ReferenceAttention(nn.Module):
  """Every sketch position looks up the reference positions that match it (SCFT).

  Queries come from the sketch's features, keys from the reference's, both
  layer-normalised then projected; values are the reference's features with its
  colours (so a matched position hands over its colour directly). Several heads, scaled
  dot-product; the heads' outputs are projected back to `features` channels.

  With `ref_colors` (B, Hr, Wr, C) it also returns the colours it found: per sketch
  position the attention-weighted reference colour, averaged over heads (B, H, W, C).
  With `with_match` it returns last {"query": (B, H*W, heads, d), "key": (B, Hr*Wr,
  heads, d)}, what the triplet loss (`losses.triplet`) trains.
  """
  heads: int
  head_dim: int
  features: int
  dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, sketch_feat, ref_feat, ref_values, key_mask=None, ref_colors=None,
               with_match: bool = False):
    b, h, w, _ = sketch_feat.shape
    hr, wr = ref_feat.shape[1:3]
    dense = lambda n, name: nn.Dense(n, dtype=self.dtype, param_dtype=jnp.float32, name=name)
    norm = lambda name: nn.LayerNorm(dtype=self.dtype, param_dtype=jnp.float32, name=name)
    q = dense(self.heads * self.head_dim, "query")(norm("query_norm")(sketch_feat))
    k = dense(self.heads * self.head_dim, "key")(norm("key_norm")(ref_feat))
    v = dense(self.heads * self.head_dim, "value")(ref_values)
    split = lambda t, n: t.reshape(b, n, self.heads, t.shape[-1] // self.heads)
    mask = None if key_mask is None else key_mask.reshape(b, hr * wr)
    v = split(v, hr * wr)
    if ref_colors is not None:
      # The colours ride along as more value channels of every head, unprojected.
      colors = jnp.broadcast_to(ref_colors.reshape(b, hr * wr, 1, -1).astype(v.dtype),
                                (b, hr * wr, self.heads, ref_colors.shape[-1]))
      v = jnp.concatenate([v, colors], axis=-1)
    q, k = split(q, h * w), split(k, hr * wr)
    out = attend(q, k, v, mask)
    found = out[..., :self.head_dim].reshape(b, h, w, self.heads * self.head_dim)
    found = dense(self.features, "out")(found.astype(self.dtype))
    results = (found,)
    if ref_colors is not None:
      results += (out[..., self.head_dim:].mean(axis=2).reshape(b, h, w, -1),)
    if with_match:
      results += ({"query": q, "key": k},)
    return results if len(results) > 1 else found


def avg_pool(x: jax.Array, factor: int) -> jax.Array:
  """Mean over factor x factor windows (sides divisible by factor)."""
  if factor == 1:
    return x
  b, h, w, c = x.shape
  return x.reshape(b, h // factor, factor, w // factor, factor, c).mean(axis=(2, 4))
