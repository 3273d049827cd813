"""Losses of both seeds: adversarial (vanilla or LSGAN), L1, guide L1, VGG16 feature, TV."""

import jax
import jax.numpy as jnp
import optax

from jaxcolor.models import vgg


def d_adversarial(kind: str, real_logits, fake_logits, real_label: float = 1.0):
  """Discriminator loss on PatchGAN logit maps; `real_label` < 1 is one-sided smoothing."""
  real_t = jnp.full_like(real_logits, real_label)
  fake_t = jnp.zeros_like(fake_logits)
  if kind == "vanilla":
    return 0.5 * (optax.sigmoid_binary_cross_entropy(real_logits, real_t).mean() +
                  optax.sigmoid_binary_cross_entropy(fake_logits, fake_t).mean())
  if kind == "lsgan":
    return 0.5 * (jnp.mean((real_logits - real_t) ** 2) + jnp.mean((fake_logits - fake_t) ** 2))
  raise ValueError(f"loss.gan must be 'vanilla' or 'lsgan', not {kind!r}")


def g_adversarial(kind: str, fake_logits):
  ones = jnp.ones_like(fake_logits)
  if kind == "vanilla":
    return optax.sigmoid_binary_cross_entropy(fake_logits, ones).mean()
  if kind == "lsgan":
    return jnp.mean((fake_logits - ones) ** 2)
  raise ValueError(f"loss.gan must be 'vanilla' or 'lsgan', not {kind!r}")


def l1(a, b):
  """Mean absolute difference over the whole batch (a loss; `metrics.l1` is per image)."""
  return jnp.mean(jnp.abs(a - b))


def total_variation(x):
  """Mean squared difference between neighbouring pixels."""
  dh = x[:, 1:, :, :] - x[:, :-1, :, :]
  dw = x[:, :, 1:, :] - x[:, :, :-1, :]
  return jnp.mean(dh ** 2) + jnp.mean(dw ** 2)


def feature_loss(vgg_params, fake, real, layers, dtype=jnp.float32):
  """Mean over `layers` of the mean squared difference of frozen VGG16 features."""
  net = vgg.VGG16Features(dtype=dtype)
  layers = tuple(layers)
  # Separate calls, so that the backward pass runs through the fake half only.
  fake_f = net.apply({"params": vgg_params}, fake, layers=layers)
  real_f = jax.lax.stop_gradient(net.apply({"params": vgg_params}, real, layers=layers))
  total = 0.0
  for name in layers:
    total = total + jnp.mean((fake_f[name].astype(jnp.float32) -
                              real_f[name].astype(jnp.float32)) ** 2)
  return total / len(layers)


def triplet(query, key, match, rng, margin: float):
  """SCFT's similarity-based triplet loss on the reference attention's queries and keys.

  query (B, Q, heads, d) of the sketch positions, key (B, K, heads, d) of the reference
  positions, match (B, K) int: the sketch position each reference position shows, or < 0
  where none is known. For each matched reference position, its key must score (scaled
  dot product, per head) at least `margin` above a key drawn at random from the same
  reference against the query of the sketch position it shows. Mean over matched
  positions and heads; 0 when nothing is matched.
  """
  query, key = query.astype(jnp.float32), key.astype(jnp.float32)
  b, k_len = match.shape
  scale = 1.0 / jnp.sqrt(jnp.float32(query.shape[-1]))
  valid = match >= 0
  q = jnp.take_along_axis(query, jnp.maximum(match, 0)[:, :, None, None], axis=1)
  # Any other position of the reference, uniformly: offsets 1 .. K-1 from the positive.
  offsets = jax.random.randint(rng, (b, k_len), 1, max(k_len, 2))
  negative = (jnp.arange(k_len)[None, :] + offsets) % k_len
  k_neg = jnp.take_along_axis(key, negative[:, :, None, None], axis=1)
  pos = jnp.sum(q * key, axis=-1) * scale
  neg = jnp.sum(q * k_neg, axis=-1) * scale
  hinge = jnp.maximum(neg - pos + margin, 0.0).mean(axis=-1)
  return jnp.sum(jnp.where(valid, hinge, 0.0)) / jnp.maximum(jnp.sum(valid), 1)
