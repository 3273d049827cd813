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
