"""GAN training: one jitted, pmapped step; Orbax checkpoints; exact resume.

Read top to bottom, as flax's examples/imagenet: 1. state, 2. the step,
3. evaluation, 4. the loop (`train_and_evaluate(config, workdir)`: set-up,
restore, loop, checkpoint, evaluate).

Randomness is a pure function of (key, step, device): the step takes the key
made from config.seed as an argument, folds in the step number, then the
device index (`devices.step_key`), then a stream id (noise injection,
dropout, image pool). A resumed run draws the same numbers.
"""

import functools
import hashlib
import logging
import math
import os
import time
from typing import Any

import flax
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxcolor import checkpoint as ckpt_lib
from jaxcolor import color
from jaxcolor import devices
from jaxcolor import distributed
from jaxcolor import logger as logger_lib
from jaxcolor import losses
from jaxcolor import metrics as metrics_lib
from jaxcolor import models
from jaxcolor import run_info
from jaxcolor import stopping
from jaxcolor.errors import UserError

log = logging.getLogger(__name__)

AXIS = devices.AXIS
_NOISE, _DROPOUT, _POOL, _TRIPLET = 0, 1, 2, 3


class TrainingDiverged(UserError):
  """A loss became NaN or inf."""


# --------------------------------------------------------------------------
# 1. State.


@flax.struct.dataclass
class TrainState:
  step: jax.Array
  g_params: Any
  d_params: Any
  spectral: Any  # power-iteration vectors of spectral norm
  g_opt_state: Any
  d_opt_state: Any
  pool_images: jax.Array  # (pool_size, H, W, C_in + 3): past (condition, fake) pairs
  pool_count: jax.Array


def make_optimizers(config):
  o = config.optim

  def adam(lr):
    tx = optax.adam(lr, b1=o.b1, b2=o.b2)
    if o.grad_clip and o.grad_clip > 0:
      tx = optax.chain(optax.clip_by_global_norm(o.grad_clip), tx)
    return tx

  return adam(o.g_lr), adam(o.d_lr)


def pool_dtype(config):
  return models.compute_dtype(config.model.dtype)


def create_train_state(config) -> TrainState:
  """Host-side initial state (one copy, not yet replicated), deterministic in config.seed."""
  size = config.image_size
  g_params = models.init_generator(config.model, config.seed, size)
  d_params, spectral = models.init_discriminator(config.model, config.seed + 1, size)
  tx_g, tx_d = make_optimizers(config)
  channels = models.input_channels(config.model.hint, models.uses_points(config.model)) + 3
  pool = np.zeros((config.image_pool_size, size, size, channels), pool_dtype(config))
  # Optimiser states start as zeros of the parameters' shapes: built on the
  # host from shapes, so nothing is dispatched per leaf.
  zeros = lambda t: jax.tree_util.tree_map(lambda s: np.zeros(s.shape, s.dtype), t)
  g_opt = zeros(jax.eval_shape(tx_g.init, g_params))
  d_opt = zeros(jax.eval_shape(tx_d.init, d_params))
  return TrainState(step=np.zeros((), np.int32), g_params=g_params, d_params=d_params,
                    spectral=spectral, g_opt_state=g_opt, d_opt_state=d_opt, pool_images=pool,
                    pool_count=np.zeros((), np.int32))


def params_digest(params) -> str:
  """sha256 of a parameter tree's bytes: equal digests mean bitwise-equal parameters."""
  h = hashlib.sha256()
  for path, leaf in sorted(jax.tree_util.tree_leaves_with_path(params),
                           key=lambda kv: jax.tree_util.keystr(kv[0])):
    h.update(jax.tree_util.keystr(path).encode())
    h.update(np.ascontiguousarray(leaf).tobytes())
  return h.hexdigest()


# --------------------------------------------------------------------------
# 2. The step.


def pool_query(images, count, items, key):
  """Image pool of past fakes (Shrivastava et al.; CycleGAN): per device.

  Until the pool is full each item is stored and passed through; then with
  probability 0.5 an item is swapped for a random stored one.
  """
  size = images.shape[0]
  outs = []
  for i in range(items.shape[0]):
    k_swap, k_idx = jax.random.split(jax.random.fold_in(key, i))
    item = items[i].astype(images.dtype)
    not_full = count < size
    swap = jnp.logical_and(~not_full, jax.random.uniform(k_swap) < 0.5)
    j = jax.random.randint(k_idx, (), 0, size)
    slot = jnp.where(not_full, count, j)
    stored = images[slot]
    write = jnp.logical_or(not_full, swap)
    images = images.at[slot].set(jnp.where(write, item, stored))
    outs.append(jnp.where(swap, stored, item))
    count = jnp.minimum(count + 1, size)
  return images, count, jnp.stack(outs).astype(items.dtype)


def triplet_weight(config) -> float:
  """config.loss.triplet; 0 for configs written before the loss existed."""
  return float(config.loss.get("triplet", 0.0) or 0.0)


def train_step(state: TrainState, batch, vgg_params, key, *, config, gen, disc, tx_g, tx_d):
  """One GAN step on one device's batch (inside `jax.pmap(axis_name=devices.AXIS)`).

  `key` is the run's key (`jax.random.key(config.seed)`), the same on every
  device; the step and the device index are folded into it here.
  Returns (new state, scalars averaged over devices).
  """
  m, l = config.model, config.loss
  feature_layers = tuple(l.feature_layers)
  vgg_dtype = models.compute_dtype(m.dtype)
  key = devices.step_key(key, state.step)
  rngs = {"noise": jax.random.fold_in(key, _NOISE),
          "dropout": jax.random.fold_in(key, _DROPOUT)}
  x = models.generator_input(m.hint, batch["sketch"], batch["hint"], batch.get("points"))
  reference = models.generator_reference(m.hint, batch["hint"])
  real = batch["image"]
  triplet = triplet_weight(config)
  # Asked for only when trained: a step without the triplet loss stays the step it was.
  match_kw = {"with_match": True} if triplet > 0 else {}

  # The generator runs forward once; both updates use this one forward.
  def g_forward(p):
    return gen.apply({"params": p}, x, reference, train=True, with_guides=True, rngs=rngs,
                     **match_kw)

  # guides: the histogram family's guide images, the reference family's attention
  # queries and keys with the triplet loss, else {}.
  (fake, guides), g_vjp = jax.vjp(g_forward, state.g_params)

  pool_images, pool_count = state.pool_images, state.pool_count
  d_cond, d_fake = x, fake
  if config.image_pool_size > 0:
    pool_images, pool_count, pooled = pool_query(
        pool_images, pool_count, jnp.concatenate([x, fake], -1),
        jax.random.fold_in(key, _POOL))
    d_cond, d_fake = pooled[..., :x.shape[-1]], pooled[..., x.shape[-1]:]
  d_fake = jax.lax.stop_gradient(d_fake)

  # Spectral norm runs once per step; its vjp carries the gradient with respect
  # to the normalised kernels back to the raw ones.
  d_normed, sn_vjp, spectral = jax.vjp(
      lambda d: models.normalized_discriminator_params(m, d, state.spectral, update=True),
      state.d_params, has_aux=True)

  def d_apply(p, condition, image):
    return disc.apply({"params": p}, condition, image)

  # Real and fake go through D separately (GroupNorm is per example, so the
  # logits are those of one joint call): the backward pass then skips the
  # input gradient of the real half, and without a pool the fake forward
  # also serves the generator's adversarial loss.
  real_logits, real_vjp = jax.vjp(lambda p: d_apply(p, x, real), d_normed)
  fake_logits, fake_vjp = jax.vjp(lambda p, f: d_apply(p, d_cond, f), d_normed, d_fake)
  d_loss, (ct_real, ct_fake) = jax.value_and_grad(
      lambda r, f: losses.d_adversarial(l.gan, r, f, l.real_label), argnums=(0, 1))(
          real_logits, fake_logits)
  (grad_real,) = real_vjp(ct_real)
  grad_fake, _ = fake_vjp(ct_fake)
  (d_grads,) = sn_vjp(jax.tree.map(jnp.add, grad_real, grad_fake))
  d_real, d_fake_score = real_logits.mean(), fake_logits.mean()

  if config.image_pool_size > 0:  # D judged pooled fakes; the generator needs its own
    g_logits, g_logits_vjp = jax.vjp(lambda f: d_apply(d_normed, x, f), fake)
    fake_input_vjp = lambda ct: g_logits_vjp(ct)[0]
  else:
    g_logits = fake_logits
    fake_input_vjp = lambda ct: fake_vjp(ct)[1]
  adv, ct_adv = jax.value_and_grad(lambda z: losses.g_adversarial(l.gan, z))(g_logits)

  def g_loss_fn(fake, guides):
    rec = losses.l1(fake, real)
    parts = {"g_adv": adv, "g_l1": rec}
    content = rec
    if "gray" in guides:
      parts["g_guide_gray"] = losses.l1(guides["gray"], color.luma(real)[..., None])
      parts["g_guide_color"] = losses.l1(guides["color"], real)
      content = (content + l.guide_gray * parts["g_guide_gray"] +
                 l.guide_color * parts["g_guide_color"])
    total = l.l1 * content
    if triplet > 0:
      parts["g_triplet"] = losses.triplet(guides["query"], guides["key"], batch["match"],
                                          jax.random.fold_in(key, _TRIPLET),
                                          float(l.get("triplet_margin", 12.0)))
      total = total + triplet * parts["g_triplet"]
    if l.feature > 0:
      parts["g_feature"] = losses.feature_loss(vgg_params, fake, real, feature_layers,
                                               vgg_dtype)
      total = total + l.feature * parts["g_feature"]
    if l.tv > 0:
      parts["g_tv"] = losses.total_variation(fake)
      total = total + l.tv * parts["g_tv"]
    return total, parts

  (g_rest, g_parts), (fake_ct, guides_ct) = jax.value_and_grad(
      g_loss_fn, argnums=(0, 1), has_aux=True)(fake, guides)
  g_loss = adv + g_rest
  cotangents = (fake_ct + fake_input_vjp(ct_adv).astype(fake_ct.dtype), guides_ct)
  (g_grads,) = g_vjp(cotangents)

  g_grads, d_grads = devices.pmean((g_grads, d_grads))
  g_updates, g_opt_state = tx_g.update(g_grads, state.g_opt_state, state.g_params)
  d_updates, d_opt_state = tx_d.update(d_grads, state.d_opt_state, state.d_params)
  new_state = state.replace(
      step=state.step + 1,
      g_params=optax.apply_updates(state.g_params, g_updates),
      d_params=optax.apply_updates(state.d_params, d_updates),
      spectral=spectral, g_opt_state=g_opt_state, d_opt_state=d_opt_state,
      pool_images=pool_images, pool_count=pool_count)
  scalars = {"g_loss": g_loss, "d_loss": d_loss, "d_real": d_real, "d_fake": d_fake_score,
             "g_grad_norm": optax.tree.norm(g_grads),
             "d_grad_norm": optax.tree.norm(d_grads), **g_parts}
  return new_state, devices.pmean(scalars)


def make_p_train_step(config, gen, disc):
  """The pmapped `train_step`: call it as (state, batch, vgg_params, key) -> (state, scalars).

  The state is donated; the key is broadcast to every device.
  """
  tx_g, tx_d = make_optimizers(config)
  step = functools.partial(train_step, config=config, gen=gen, disc=disc, tx_g=tx_g, tx_d=tx_d)
  return jax.pmap(step, axis_name=AXIS, in_axes=(0, 0, 0, None), donate_argnums=(0,))


# --------------------------------------------------------------------------
# 3. Evaluation.


def eval_step(g_params, batch, *, config, gen):
  """Deterministic (zero-noise) outputs and their per-image L1 / PSNR / SSIM."""
  x = models.generator_input(config.model.hint, batch["sketch"], batch["hint"],
                             batch.get("points"))
  reference = models.generator_reference(config.model.hint, batch["hint"])
  out = gen.apply({"params": g_params}, x, reference, noise_mode="zero")
  real = batch["image"]
  per_image = {"l1": metrics_lib.l1(out, real), "psnr": metrics_lib.psnr(out, real),
               "ssim": metrics_lib.ssim(out, real)}
  return out, per_image


def make_p_eval_step(config, gen):
  """The pmapped `eval_step`: (g_params, batch) -> (outputs, per-image metrics)."""
  return jax.pmap(functools.partial(eval_step, config=config, gen=gen), axis_name=AXIS)


def evaluate_batches(p_eval, g_params, batches):
  """Masked means over fixed validation batches; also returns the first outputs."""
  sums, count, first = {}, 0.0, None
  for batch in batches:
    mask = batch["mask"]
    out, per_image = p_eval(g_params, {k: v for k, v in batch.items() if k != "mask"})
    per_image = jax.tree_util.tree_map(devices.local_values, per_image)
    if first is None:
      out = devices.local_values(out)
      first = out.reshape((-1,) + out.shape[2:])
    for k, v in per_image.items():
      sums[k] = sums.get(k, 0.0) + float(np.sum(np.asarray(v) * mask))
    count += float(mask.sum())
  return {f"val_{k}": v / max(count, 1.0) for k, v in sums.items()}, first


# --------------------------------------------------------------------------
# 4. The loop.


def ensure_dataset(config, data_dir):
  """synthetic_cels is built on demand; the others must be built by the user first."""
  from jaxcolor.data import builders  # pylint: disable=g-import-not-at-top
  if config.data.name == "synthetic_cels":
    kwargs = dict(config.data.builder_kwargs.to_dict()) if config.data.builder_kwargs else {}
    if jax.process_index() == 0:
      builders.build_dataset("synthetic_cels", data_dir, **kwargs)
    distributed.barrier("dataset_built")


def check_finite(step, scalars, last_good):
  """Raises TrainingDiverged, naming the step and the loss, if any scalar is NaN or inf."""
  # Name the total losses first: a NaN there is what the user should read.
  for name, value in sorted(scalars.items(), key=lambda kv: not kv[0].endswith("_loss")):
    if not math.isfinite(float(value)):
      raise TrainingDiverged(
          f"step {step}: {name} is {float(value)}; stopped without saving "
          f"(last good checkpoint: {last_good if last_good is not None else 'none'})")


def num_train_steps(config, train_size: int) -> int:
  if config.num_train_steps and config.num_train_steps > 0:
    return int(config.num_train_steps)
  if not config.num_epochs:
    raise UserError("set config.num_train_steps or config.num_epochs")
  global_batch = config.per_device_batch_size * jax.device_count()
  return int(config.num_epochs) * (train_size // global_batch)


def load_vgg_params(config):
  """The frozen VGG16 of the feature loss (host arrays); {} when the loss is off."""
  if config.loss.feature <= 0:
    return {}
  from jaxcolor.models import vgg  # pylint: disable=g-import-not-at-top
  return vgg.load_vgg16_params(config.loss.vgg_weights or None)


def check_config(config):
  models.check_family(config.model)
  if triplet_weight(config) > 0 and config.model.family != "reference":
    raise UserError(f"config.loss.triplet trains the reference family's attention; the "
                    f"{config.model.family} family has none (set it to 0)")
  if config.image_size % models.model_stride(config.model):
    raise UserError(f"config.image_size {config.image_size} is not divisible by the model's "
                    f"stride {models.model_stride(config.model)}")


class _Periodic:
  """Which periodic actions fall on `step` (each every `config.<name>_every_steps`)."""

  NAMES = ("log", "sample", "eval", "checkpoint")

  def __init__(self, config, total_steps):
    self.every = {n: config[f"{n}_every_steps"] for n in self.NAMES}
    self.total = total_steps

  def __call__(self, step):
    return {n: step % every == 0 or step == self.total for n, every in self.every.items()}


def train_and_evaluate(config, workdir: str, *, progress=None) -> dict:
  """Trains `config` in `workdir`, resuming from its latest checkpoint if any.

  Returns the last logged scalars (host floats), with "step" and "params_sha256".
  """
  from jaxcolor.data import builders, pipeline  # pylint: disable=g-import-not-at-top

  # Set-up: run info, data, model, steps.
  check_config(config)
  workdir = os.path.abspath(workdir)
  is_main = jax.process_index() == 0
  if is_main:
    run_info.write(config, workdir)
  data_dir = builders.data_dir_of(config)
  ensure_dataset(config, data_dir)
  train_iter = pipeline.make_train_loader(
      config, data_dir=data_dir, process_index=jax.process_index(),
      process_count=jax.process_count(), local_device_count=jax.local_device_count())
  eval_batches = pipeline.make_eval_batches(
      config, data_dir=data_dir, split="val", num_examples=config.num_eval_examples,
      local_device_count=jax.local_device_count())
  total_steps = num_train_steps(config, pipeline.train_size(config, data_dir))
  gen = models.make_generator(config.model)
  disc = models.make_discriminator(config.model)
  p_train_step = make_p_train_step(config, gen, disc)
  p_eval_step = make_p_eval_step(config, gen)
  vgg_params = devices.replicate(load_vgg_params(config))
  rng = jax.random.key(config.seed)

  # Restore, or start from the seed's initial state.
  manager = ckpt_lib.make_manager(workdir, config)
  start_step = 0
  if manager.latest_step() is not None:
    state, start_step = ckpt_lib.restore_train_state(manager, create_train_state(config),
                                                     train_iter)
    log.info("resumed from step %d", start_step)
  else:
    state = devices.replicate(create_train_state(config))

  first_batch = None
  if jax.process_count() > 1 and start_step < total_steps:
    # Compile (into jax's cache) before the first collective, then meet:
    # processes that finish compiling at different times would miss gloo's
    # 30 s rendezvous.
    first_batch = next(train_iter)
    p_train_step.lower(state, first_batch, vgg_params, rng).compile()
    distributed.barrier("compiled")

  writer = logger_lib.MetricWriter(workdir, enabled=is_main)
  bar = None
  if (config.progress_bar if progress is None else progress) and is_main:
    from tqdm import tqdm  # pylint: disable=g-import-not-at-top
    bar = tqdm(total=total_steps, initial=start_step, unit="step", dynamic_ncols=True)

  def validate(step):
    val, outputs = evaluate_batches(p_eval_step, state.g_params, eval_batches)
    writer.scalars(step, val)
    return val, outputs

  def write_samples(step, outputs):
    from jaxcolor.data import images  # pylint: disable=g-import-not-at-top
    b = eval_batches[0]
    flat = lambda a: a.reshape((-1,) + a.shape[2:])
    grid = logger_lib.sample_grid(flat(b["sketch"]), flat(b["reference"]), outputs,
                                  flat(b["image"]))
    images.save_image(grid, os.path.join(workdir, "samples", f"step_{step:07d}.png"))
    writer.image(step, "samples", grid)

  def fetch(step, scalars):
    host = jax.tree_util.tree_map(lambda x: devices.local_values(x)[0], scalars)
    check_finite(step, host, last_good)
    return host

  # The loop.
  periodic = _Periodic(config, total_steps)
  images_per_step = config.per_device_batch_size * jax.device_count()
  last = {"step": start_step}
  last_good = saved_step = manager.latest_step()
  window_start, window_steps = time.time(), 0
  step, pending = start_step, None
  with stopping.StopSignal() as stop:
    while step < total_steps:
      try:
        batch = first_batch if first_batch is not None else next(train_iter)
        first_batch = None
      except StopIteration:
        log.warning("the data ran out at step %d", step)
        break
      state, scalars = p_train_step(state, batch, vgg_params, rng)
      step += 1
      window_steps += 1
      # The previous step's losses are checked while this one runs: NaN is
      # caught at the step that made it, without stalling the device.
      if pending is not None:
        fetch(*pending)
      pending = (step, scalars)
      due = periodic(step)
      stopping_now = stop.received is not None
      if due["log"]:
        host = fetch(step, scalars)
        elapsed = time.time() - window_start
        host = dict(host, images_per_second=window_steps * images_per_step / elapsed,
                    seconds_per_step=elapsed / window_steps)
        writer.scalars(step, host)
        last.update({k: float(v) for k, v in host.items()})
        window_start, window_steps = time.time(), 0
        if bar is not None:
          bar.set_postfix(g=f"{host['g_loss']:.3f}", d=f"{host['d_loss']:.3f}",
                          l1=f"{host['g_l1']:.3f}", ips=f"{host['images_per_second']:.1f}")
      if bar is not None:
        bar.update(1)
      # Evaluate, write samples and checkpoint.
      if due["eval"] or due["sample"] or due["checkpoint"] or stopping_now:
        fetch(step, scalars)
        pending = None
        val, outputs = validate(step)
        last.update(val)
        if due["sample"] and is_main:
          write_samples(step, outputs)
        if due["checkpoint"] or stopping_now:
          ckpt_lib.save_train_state(manager, step, state, train_iter, val)
          last_good = saved_step = step
      if stopping_now:
        manager.wait_until_finished()
        writer.flush()
        log.warning("%s: saved step %d; run the same command to resume", stop.received, step)
        break
  if pending is not None:
    fetch(*pending)
  if bar is not None:
    bar.close()

  # A run that stopped between checkpoints (the data ran out) still ends saved.
  if saved_step != step and step > start_step:
    val, _ = validate(step)
    last.update(val)
    ckpt_lib.save_train_state(manager, step, state, train_iter, val)
  manager.wait_until_finished()
  manager.close()
  writer.close()
  last["step"] = step
  last["params_sha256"] = params_digest(devices.unreplicate(state.g_params))
  return last
