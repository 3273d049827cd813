"""`jaxcolor bench`: times the train step, inference, the data pipeline and hint extraction.

  jaxcolor bench [--config configs/palette.py] [--resolution N] [--batch B] [--steps S]
      [--warmup W] [--what train|infer|data|hints|colorize|regions|all] [--devices N]
      [--json out.json] [--peak-flops F] [--data-dir DIR] [--no-host-tuning]
      [--config.FIELD=VALUE ...]

Runs on whatever JAX sees (CPU, GPU or TPU) and names the device. Compiled
programs are timed after warm-up, each call ended by `jax.block_until_ready`;
medians are reported. FLOPs come from XLA's cost analysis of the compiled
program (what XLA executes, so "FLOP utilisation" counts all of it, recomputed
work included). XLA flags are read from $XLA_FLAGS at start-up. On a CPU-only
host the `jaxcolor` command applies `host.tune_cpu_host` first (YNNPACK
convolution fusions off, huge pages for malloc) unless --no-host-tuning is given;
the report names the settings in force.

Before timing the train step or inference it times a square matrix product
(in the config's dtype) on the same device and also gives their FLOP rates as
a fraction of it: shared hosts of one kind vary by tens of percent, and the
figure shows how fast the matrix units ran during the measurement (memory-bound
work can slow down while it does not). It also reports the process's CPU
seconds per call: on a CPU, how many cores the program kept busy.

Figures measured with it are in docs/BENCHMARKS.md.

Importable: `bench_train`, `bench_infer`, `bench_data`, `bench_hints`, `bench_matmul`,
`bench_regions`
return dicts.
"""

import contextlib
import io
import json
import math
import os
import resource
import statistics
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxcolor import defaults
from jaxcolor import devices as device_layout
from jaxcolor import hints
from jaxcolor import host
from jaxcolor import models
from jaxcolor import programs
from jaxcolor.errors import UserError

INFER_RESOLUTIONS = (256, 512)

# Dense peak FLOP/s per device: (device_kind substring, bf16/f16 peak, float32 peak).
# GPUs run float32 convolutions and matmuls as TF32 under JAX's default precision,
# TPUs as bf16 passes, hence those float32 figures.
_ACCELERATOR_PEAKS = (
    ("h200", 989e12, 494.5e12),
    ("h100", 989e12, 494.5e12),  # SXM; a PCIe card is lower: pass --peak-flops
    ("a100", 312e12, 156e12),
    ("tpu v6", 918e12, 918e12),
    ("tpu v5 lite", 197e12, 197e12),
    ("tpu v5e", 197e12, 197e12),
    ("tpu v5", 459e12, 459e12),  # v5p
    ("tpu v4", 275e12, 275e12),
)
# Measured float32 matmul peak of the 2-core machine the project benchmarks on; other
# CPUs differ: pass --peak-flops.
CPU_PEAK_FLOPS = 340e9


# --------------------------------------------------------------------------- helpers


def device_info(devices=None) -> dict:
  """Names the device JAX uses (first of `devices`, default all) and the versions."""
  import jaxlib  # pylint: disable=g-import-not-at-top
  devices = list(devices or jax.devices())
  return {"device_kind": devices[0].device_kind, "platform": devices[0].platform,
          "device_count": len(devices), "local_device_count": jax.local_device_count(),
          "jax": jax.__version__, "jaxlib": jaxlib.__version__, "cpu_count": os.cpu_count(),
          "xla_flags": os.environ.get("XLA_FLAGS", ""), "load_average": _load_average()}


def _load_average():
  # Timings on a shared machine mean little without it.
  try:
    return list(os.getloadavg())
  except OSError:
    return None


def default_peak_flops(device, dtype="float32"):
  """Built-in peak FLOP/s of one `device` for `dtype` compute, or None if unknown."""
  if device.platform == "cpu":
    return CPU_PEAK_FLOPS
  kind = device.device_kind.lower()
  for name, low_precision, f32 in _ACCELERATOR_PEAKS:
    if name in kind:
      return f32 if dtype == "float32" else low_precision
  return None


def select_devices(n=None):
  """The first `n` local devices; by default all, but one on CPU.

  Fake CPU devices (JAX_NUM_CPU_DEVICES) share the same cores, so timing
  several of them measures nothing more than one.
  """
  local = jax.local_devices()
  if n is None:
    n = 1 if local[0].platform == "cpu" else len(local)
  if not 1 <= n <= len(local):
    raise UserError(f"--devices must be between 1 and {len(local)}, got {n}")
  return local[:n]


def _flops(compiled):
  """FLOPs of one execution on one device from XLA's cost analysis (None if absent)."""
  try:
    cost = compiled.cost_analysis()
  except Exception:  # pylint: disable=broad-except  # some backends do not implement it
    return None
  if isinstance(cost, (list, tuple)):  # older jax: one dict per program
    cost = cost[0] if cost else None
  if not cost or "flops" not in cost:
    return None
  return float(cost["flops"])


def compile_timed(jitted, *args) -> dict:
  """Lowers and compiles `jitted` for `args`, timing both.

  Returns {compiled, lower_s, compile_s (lowering included), compile_cache_hit}:
  `compile_cache_hit` says XLA's program came from JAX's persistent compilation cache,
  so `compile_s` is tracing, lowering and loading rather than a compilation.
  """
  start = time.perf_counter()
  lowered = jitted.lower(*args)
  lower_s = time.perf_counter() - start
  compiled, hit = programs.compile_noting_hits(lowered)
  compile_s = time.perf_counter() - start
  return {"compiled": compiled, "lower_s": lower_s, "compile_s": compile_s,
          "compile_cache_hit": hit}


def _xla_memory(compiled):
  """Bytes XLA plans per device (arguments + outputs + temporaries - aliased), or None."""
  try:
    m = compiled.memory_analysis()
  except Exception:  # pylint: disable=broad-except
    return None
  if m is None:
    return None
  total = (m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes -
           m.alias_size_in_bytes)
  return {"argument_bytes": int(m.argument_size_in_bytes),
          "output_bytes": int(m.output_size_in_bytes),
          "temp_bytes": int(m.temp_size_in_bytes), "alias_bytes": int(m.alias_size_in_bytes),
          "total_bytes": int(total)}


def _device_peak_bytes(devices):
  """Largest peak_bytes_in_use over `devices`; None where JAX has no memory stats (CPU)."""
  peaks = []
  for d in devices:
    try:
      stats = d.memory_stats()
    except Exception:  # pylint: disable=broad-except
      stats = None
    if stats and "peak_bytes_in_use" in stats:
      peaks.append(int(stats["peak_bytes_in_use"]))
  return max(peaks) if peaks else None


def host_peak_rss_bytes() -> int:
  # ru_maxrss is kilobytes on Linux, bytes on macOS.
  rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
  return int(rss if sys.platform == "darwin" else rss * 1024)


def _time_calls(fn, steps, warmup):
  """Runs fn() `warmup` times untimed, then `steps` times timed.

  Returns the wall-clock seconds of each timed call and the process's CPU
  seconds (all threads) over them.
  """
  for _ in range(warmup):
    jax.block_until_ready(fn())
  times = []
  cpu_start = time.process_time()
  for _ in range(steps):
    start = time.perf_counter()
    jax.block_until_ready(fn())
    times.append(time.perf_counter() - start)
  return times, time.process_time() - cpu_start


def _summary(timed):
  times, cpu_s = timed
  if not times:
    return {"median_s": None, "min_s": None, "times_s": [], "host_cpu_s_per_call": None}
  # On a CPU device, CPU seconds over wall seconds says how many cores the program kept busy.
  return {"median_s": statistics.median(times), "min_s": min(times), "times_s": times,
          "host_cpu_s_per_call": cpu_s / len(times)}


def _utilisation(flops, seconds, peak):
  achieved = flops / seconds if flops and seconds else None
  fraction = achieved / peak if achieved and peak else None
  return achieved, fraction


def _check_size(config, size):
  stride = models.model_stride(config.model)
  if size % stride:
    raise UserError(f"resolution {size} is not divisible by the model's stride {stride}")


def hint_shape(config, size) -> tuple:
  """The hint's shape: its colours', or a reference family's reference image at `size`
  (training) or at config.model.reference_side (inference), whichever is smaller."""
  if config.model.hint != hints.REFERENCE:
    return hints.HINT_SHAPES[config.model.hint]
  side = min(size, int(config.model.get("reference_side", 0) or size))
  return (side, side, 3)


def random_batch(config, num_devices, seed=0) -> dict:
  """A training batch per docs/CONTRACTS.md, leading axes (devices, per-device batch)."""
  rng = np.random.default_rng(seed)
  lead = (num_devices, config.per_device_batch_size)
  size = config.image_size
  uniform = lambda *shape: rng.uniform(-1, 1, lead + shape).astype(np.float32)
  batch = {"sketch": uniform(size, size, 1), "image": uniform(size, size, 3),
           "reference": uniform(size, size, 3),
           "hint": uniform(*hint_shape(config, size))}
  if models.uses_points(config.model):
    batch["points"] = np.zeros(lead + (size, size, hints.POINT_CHANNELS), np.float32)
  return batch


# --------------------------------------------------------------------------- reference

MATMUL_SIZE_CPU = 2048
MATMUL_SIZE_ACCELERATOR = 8192


def bench_matmul(dtype="float32", size=None, steps=5, warmup=1, peak_flops=None) -> dict:
  """Times one jitted square matrix product on the first local device.

  Shared hosts of one kind vary in speed, so `run` measures this rate in the
  same process as the train step and inference and gives their FLOP rate as a
  fraction of it as well as of the nominal peak.
  Returns {size, dtype, median_s, min_s, times_s, host_cpu_s_per_call, flops,
  flops_per_s, peak_flops, flop_utilisation}.
  """
  dev = jax.local_devices()[0]
  n = size or (MATMUL_SIZE_CPU if dev.platform == "cpu" else MATMUL_SIZE_ACCELERATOR)
  keys = jax.random.split(jax.random.key(0))
  a, b = (jax.device_put(jax.random.normal(k, (n, n), jnp.dtype(dtype)), dev) for k in keys)
  product = jax.jit(lambda a, b: jnp.dot(a, b, preferred_element_type=jnp.float32))
  compiled = product.lower(a, b).compile()
  summary = _summary(_time_calls(lambda: compiled(a, b), steps, warmup))
  flops = 2.0 * n ** 3
  peak = peak_flops or default_peak_flops(dev, dtype)
  achieved, fraction = _utilisation(flops, summary["median_s"], peak)
  return {"size": n, "dtype": jnp.dtype(dtype).name, **summary, "flops": flops,
          "flops_per_s": achieved, "peak_flops": peak, "flop_utilisation": fraction}


def _of_reference(achieved, reference):
  rate = (reference or {}).get("flops_per_s")
  return achieved / rate if achieved and rate else None


# --------------------------------------------------------------------------- train


def bench_train(config, steps=5, warmup=1, devices=None, peak_flops=None) -> dict:
  """Compiles and times the pmapped train step on the first `devices` local devices.

  Returns a dict: device, compile_s, lower_s, compile_cache_hit, median_s / min_s
  per iteration, images_per_s, flops_per_step (summed over devices),
  achieved_flops_per_s, peak_flops, flop_utilisation, peak host RSS, peak device
  bytes (None on CPU) and XLA's planned bytes per device.
  """
  from jaxcolor import train  # pylint: disable=g-import-not-at-top
  _check_size(config, config.image_size)
  devs = select_devices(devices)
  n = len(devs)
  gen = models.make_generator(config.model)
  disc = models.make_discriminator(config.model)

  start = time.perf_counter()
  state = device_layout.replicate(train.create_train_state(config), devs)
  vgg_params = device_layout.replicate(train.load_vgg_params(config), devs)
  batch = device_layout.to_devices(random_batch(config, n, config.seed), devs)
  key = jax.random.key(config.seed)
  jax.block_until_ready((state, vgg_params, batch))
  init_s = time.perf_counter() - start

  p_train_step = train.make_p_train_step(config, gen, disc)
  timed = compile_timed(p_train_step, state, batch, vgg_params, key)
  compiled = timed.pop("compiled")
  per_device_flops = _flops(compiled)

  holder = {"state": state, "scalars": None}
  del state  # donated at the first call

  def step():
    holder["state"], holder["scalars"] = compiled(holder["state"], batch, vgg_params, key)
    return holder["state"], holder["scalars"]

  summary = _summary(_time_calls(step, steps, warmup))
  global_batch = n * config.per_device_batch_size
  flops = per_device_flops * n if per_device_flops else None
  peak = _total_peak(devs, config.model.dtype, peak_flops)
  achieved, fraction = _utilisation(flops, summary["median_s"], peak)
  g_loss = None
  if holder["scalars"] is not None:
    g_loss = float(np.asarray(holder["scalars"]["g_loss"])[0])
  return {
      **device_info(devs),
      "what": "train", "resolution": config.image_size,
      "per_device_batch": config.per_device_batch_size, "global_batch": global_batch,
      "dtype": config.model.dtype, "feature_layers": list(config.loss.feature_layers),
      "steps": steps, "warmup": warmup, "init_s": init_s, **timed,
      **summary,
      "images_per_s": global_batch / summary["median_s"] if summary["median_s"] else None,
      "flops_per_step": flops, "achieved_flops_per_s": achieved, "peak_flops": peak,
      "flop_utilisation": fraction, "host_peak_rss_bytes": host_peak_rss_bytes(),
      "device_peak_bytes": _device_peak_bytes(devs), "xla_memory": _xla_memory(compiled),
      "g_loss": g_loss,
  }


def _total_peak(devs, dtype, per_device=None):
  peak = per_device or default_peak_flops(devs[0], dtype)
  if peak is None:
    return None
  # Fake CPU devices share one machine's cores: its peak is the whole budget.
  return peak if devs[0].platform == "cpu" else peak * len(devs)


# --------------------------------------------------------------------------- infer


def bench_infer(config, resolutions=INFER_RESOLUTIONS, steps=5, warmup=1,
                peak_flops=None) -> dict:
  """Jitted deterministic generator latency, batch 1, at each resolution, on one device.

  Returns {device fields..., "results": [{resolution, compile_s, lower_s,
  compile_cache_hit, median_s, min_s,
  flops, achieved_flops_per_s, flop_utilisation, xla_memory}, ...]}.
  """
  dev = jax.local_devices()[0]
  for size in resolutions:
    _check_size(config, size)
  gen = models.make_generator(config.model)
  # Params do not depend on the input size: initialise at the smallest legal one.
  params = jax.device_put(
      models.init_generator(config.model, config.seed, models.model_stride(config.model)), dev)
  kind = config.model.hint
  apply = jax.jit(lambda p, x, h: gen.apply({"params": p}, x,
                                            models.generator_reference(kind, h),
                                            noise_mode="zero"))
  peak = peak_flops or default_peak_flops(dev, config.model.dtype)
  rng = np.random.default_rng(config.seed)
  results = []
  for size in resolutions:
    sketch = rng.uniform(-1, 1, (1, size, size, 1)).astype(np.float32)
    colors = rng.uniform(-1, 1, (1,) + hint_shape(config, size)).astype(np.float32)
    points = (jnp.zeros((1, size, size, hints.POINT_CHANNELS)) if models.uses_points(config.model)
              else None)
    x = jax.device_put(models.generator_input(config.model.hint, jnp.asarray(sketch),
                                              jnp.asarray(colors), points), dev)
    h = jax.device_put(jnp.asarray(colors), dev)
    timed = compile_timed(apply, params, x, h)
    compiled = timed.pop("compiled")
    flops = _flops(compiled)
    summary = _summary(_time_calls(lambda: compiled(params, x, h), steps, warmup))  # pylint: disable=cell-var-from-loop
    achieved, fraction = _utilisation(flops, summary["median_s"], peak)
    results.append({"resolution": size, **timed, **summary, "flops": flops,
                    "achieved_flops_per_s": achieved, "flop_utilisation": fraction,
                    "xla_memory": _xla_memory(compiled)})
  return {**device_info([dev]), "what": "infer", "dtype": config.model.dtype,
          "steps": steps, "warmup": warmup, "peak_flops": peak, "results": results,
          "host_peak_rss_bytes": host_peak_rss_bytes(),
          "device_peak_bytes": _device_peak_bytes([dev])}


# --------------------------------------------------------------------------- colorize


def bench_colorize(checkpoint=None, size=512, runs=3) -> dict:
  """Wall time of whole `jaxcolor colorize` commands on one size x size sketch.

  The first run fills the persistent compile cache (in a temporary folder, so that the
  figures do not depend on earlier commands); the others start from it, as a user's
  second command does. checkpoint None = the default bundled model.
  """
  import subprocess  # pylint: disable=g-import-not-at-top
  from PIL import Image  # pylint: disable=g-import-not-at-top

  from jaxcolor import demo  # pylint: disable=g-import-not-at-top
  _, sketch_path, ref_path = demo.bundled_pairs()[0]
  with tempfile.TemporaryDirectory() as tmp:
    sketch = os.path.join(tmp, "sketch.png")
    Image.open(sketch_path).convert("L").resize((size, size), Image.Resampling.LANCZOS).save(sketch)
    cmd = [sys.executable, "-m", "jaxcolor", "colorize", sketch, "--reference", str(ref_path),
           "--out", os.path.join(tmp, "out")]
    if checkpoint:
      cmd += ["--checkpoint", checkpoint]
    env = dict(os.environ, JAXCOLOR_COMPILE_CACHE=os.path.join(tmp, "cache"))
    times = []
    for _ in range(1 + int(runs)):
      start = time.perf_counter()
      done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
      times.append(time.perf_counter() - start)
      if done.returncode:
        raise UserError(f"jaxcolor colorize failed: {done.stderr.strip().splitlines()[-1:]}")
  warm = times[1:]
  return {"what": "colorize", "resolution": size,
          "checkpoint": checkpoint or f"bundled {defaults.DEFAULT_MODEL}",
          "cold_s": times[0], "warm_median_s": statistics.median(warm),
          "warm_min_s": min(warm), "warm_runs": len(warm)}


def _print_colorize(r):
  print(f"jaxcolor colorize, whole command, one {r['resolution']}x{r['resolution']} sketch "
        f"({r['checkpoint']}): cold cache {r['cold_s']:.2f} s; warm cache median "
        f"{r['warm_median_s']:.2f} s (min {r['warm_min_s']:.2f}, {r['warm_runs']} runs)")


# --------------------------------------------------------------------------- data


def _data_config(config, data_dir, num_train, num_val, workers):
  import ml_collections  # pylint: disable=g-import-not-at-top
  c = config.copy_and_resolve_references()
  with c.ignore_type():
    c.num_epochs = None  # repeat forever: the timing never runs out of data
    c.data.name = "synthetic_cels"
    c.data.data_dir = os.fspath(data_dir)
    c.data.builder_kwargs = ml_collections.ConfigDict(
        {"num_train": num_train, "num_val": num_val, "resolution": max(256, c.image_size)})
    c.data.num_workers = workers
  return c


def bench_data(config, data_dir=None, workers=(0, 2), batches=20, num_train=64,
               train_images_per_s=None) -> dict:
  """Examples/s of `pipeline.make_train_loader` on synthetic_cels at config.image_size.

  The first batch (worker start-up) is timed apart; then `batches` batches. With
  `train_images_per_s` (from bench_train), also the workers it takes to keep the
  step fed, assuming each worker delivers what the in-process loader does.
  """
  from jaxcolor.data import builders, pipeline  # pylint: disable=g-import-not-at-top
  tmp = None
  if data_dir is None:
    tmp = tempfile.TemporaryDirectory(prefix="jaxcolor_bench_")
    data_dir = tmp.name
  try:
    res = max(256, config.image_size)
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # tfds announces the build on stdout
      builders.build_dataset("synthetic_cels", data_dir, resolution=res, num_train=num_train,
                             num_val=8, workers=0)
    build_s = time.perf_counter() - start
    results = []
    for w in workers:
      c = _data_config(config, data_dir, num_train, 8, w)
      start = time.perf_counter()
      it = pipeline.make_train_loader(c, data_dir=data_dir, process_index=0, process_count=1,
                                      local_device_count=1)
      first = next(it)
      startup_s = time.perf_counter() - start
      start = time.perf_counter()
      for _ in range(batches):
        next(it)
      seconds = time.perf_counter() - start
      per_batch = int(first["image"].shape[0] * first["image"].shape[1])
      results.append({"workers": w, "startup_s": startup_s, "batches": batches,
                      "batch": per_batch, "seconds": seconds,
                      "examples_per_s": batches * per_batch / seconds})
      del it  # stops grain's worker processes
  finally:
    if tmp is not None:
      tmp.cleanup()
  out = {**device_info(), "what": "data", "resolution": config.image_size,
         "hint": config.model.hint, "build_s": build_s, "results": results,
         "train_images_per_s": train_images_per_s, "workers_needed": None}
  in_process = next((r["examples_per_s"] for r in results if r["workers"] == 0), None)
  if train_images_per_s and in_process:
    out["workers_needed"] = (0 if in_process >= train_images_per_s
                             else math.ceil(train_images_per_s / in_process))
  return out


# --------------------------------------------------------------------------- hints


def bench_hints(size=512, repeats=20, seed=0) -> dict:
  """Host-side hint extraction, ms per reference image (median), one thread."""
  from threadpoolctl import threadpool_limits  # pylint: disable=g-import-not-at-top
  from jaxcolor.data import synthetic  # pylint: disable=g-import-not-at-top
  ref, _ = synthetic.draw_cel(seed, size=size)
  cases = {"palette_rgb": lambda: hints.palette_colors(ref, color_space="rgb"),
           "palette_lab": lambda: hints.palette_colors(ref, color_space="lab"),
           "histogram": lambda: hints.histogram_colors(ref)}
  results = {}
  with threadpool_limits(limits=1):
    for name, fn in cases.items():
      fn()  # imports sklearn, builds caches
      times = []
      for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
      results[name] = {"median_ms": 1e3 * statistics.median(times),
                       "min_ms": 1e3 * min(times)}
  return {"what": "hints", "resolution": size, "repeats": repeats, "results": results}


# --------------------------------------------------------------------------- regions


def regions_sketches(size=1024):
  """{name: uint8 sketch (size, size)}: the kinds of line art `paint.regions` meets."""
  from PIL import Image  # pylint: disable=g-import-not-at-top

  from jaxcolor import demo  # pylint: disable=g-import-not-at-top
  from jaxcolor import sketch as sketch_lib  # pylint: disable=g-import-not-at-top
  from jaxcolor.data import synthetic  # pylint: disable=g-import-not-at-top
  color_img, drawn = synthetic.draw_cel(8, size)
  gray = color_img.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32) / 255.0
  _, demo_sketch, _ = demo.bundled_pairs()[0]
  enlarged = Image.open(demo_sketch).convert("L").resize((size, size), Image.Resampling.LANCZOS)
  return {"drawn lines (synthetic cel)": drawn,
          "XDoG lines (same cel)": (sketch_lib.xdog(gray, phi=100.0) * 255).astype(np.uint8),
          "bundled drawing, enlarged": np.asarray(enlarged)}


def bench_regions(size=1024, repeats=7) -> dict:
  """`paint.regions.segment` on size x size sketches: median seconds per call, one thread."""
  from jaxcolor.paint import regions  # pylint: disable=g-import-not-at-top
  results = {}
  for name, sketch in regions_sketches(size).items():
    found = regions.segment(sketch)  # warm: first-touch page faults, imports
    wall, cpu = [], []
    for _ in range(max(int(repeats), 1)):
      start, start_cpu = time.perf_counter(), time.process_time()
      regions.segment(sketch)
      wall.append(time.perf_counter() - start)
      cpu.append(time.process_time() - start_cpu)
    results[name] = {"median_s": statistics.median(wall), "min_s": min(wall),
                     "cpu_median_s": statistics.median(cpu), "regions": found.count,
                     "closed": found.closed}
  return {"what": "regions", "resolution": size, "repeats": repeats,
          "load_average": _load_average(), "results": results,
          "median_s": statistics.median(r["median_s"] for r in results.values())}


def _print_regions(r):
  print(f"regions (paint.regions.segment, {r['resolution']}x{r['resolution']} sketch, median "
        f"of {r['repeats']}):")
  for name, x in r["results"].items():
    print(f"  {name:<28} {_fmt_s(x['median_s'])} (min {_fmt_s(x['min_s'])}, CPU "
          f"{_fmt_s(x['cpu_median_s'])}), {x['regions']} regions")
  print(f"  median over the sketches: {_fmt_s(r['median_s'])}")


# --------------------------------------------------------------------------- CLI


def _fmt_s(x):
  if x is None:
    return "n/a"
  return f"{x * 1e3:.1f} ms" if x < 1 else f"{x:.3f} s"


def _fmt_flops(x, unit="FLOP"):
  if not x:
    return "n/a"
  for scale, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M")):
    if x >= scale:
      return f"{x / scale:.1f} {prefix}{unit}"
  return f"{x:.0f} {unit}"


def _fmt_bytes(x):
  return "n/a" if x is None else f"{x / 2**30:.2f} GiB"


def _fmt_pct(x):
  return "n/a" if x is None else f"{100 * x:.1f}%"


def _fmt_of_matmul(x):
  return "" if x is None else f", {_fmt_pct(x)} of this run's matmul"


def _fmt_cpu(cpu_s, wall_s):
  if cpu_s is None or not wall_s:
    return "n/a"
  return f"{_fmt_s(cpu_s)} ({cpu_s / wall_s:.1f} cores busy on average)"


def _fmt_compile(r):
  source = "XLA's program from the persistent cache" if r["compile_cache_hit"] else "cold"
  return f"{_fmt_s(r['compile_s'])} (lowering {_fmt_s(r['lower_s'])}; {source})"


def _print_matmul(r):
  n = r["size"]
  print(f"reference matmul {n}x{n}x{n} {r['dtype']}: {_fmt_s(r['median_s'])}, "
        f"{_fmt_flops(r['flops_per_s'], 'FLOP/s')}"
        + ("" if r["flop_utilisation"] is None else
           f" = {_fmt_pct(r['flop_utilisation'])} of the nominal "
           f"{_fmt_flops(r['peak_flops'], 'FLOP/s')}"))


def _print_train(r):
  rows = [
      ("compile", _fmt_compile(r)),
      ("s/iteration (median)", f"{_fmt_s(r['median_s'])} (min {_fmt_s(r['min_s'])}, "
       f"{r['steps']} steps)"),
      ("images/s", "n/a" if r["images_per_s"] is None else f"{r['images_per_s']:.2f}"),
      ("FLOPs/step (XLA)", _fmt_flops(r["flops_per_step"])),
      ("achieved", f"{_fmt_flops(r['achieved_flops_per_s'], 'FLOP/s')} = "
       f"{_fmt_pct(r['flop_utilisation'])} of {_fmt_flops(r['peak_flops'], 'FLOP/s')}"
       f"{_fmt_of_matmul(r.get('fraction_of_matmul'))}"),
      ("host CPU / iteration", _fmt_cpu(r["host_cpu_s_per_call"], r["median_s"])),
      ("peak host RSS", _fmt_bytes(r["host_peak_rss_bytes"])),
      ("peak device memory", _fmt_bytes(r["device_peak_bytes"])),
      ("XLA plan / device", _fmt_bytes((r["xla_memory"] or {}).get("total_bytes"))),
  ]
  print(f"train step: {r['resolution']}x{r['resolution']}, batch {r['per_device_batch']}"
        f"/device x {r['device_count']} = {r['global_batch']}, {r['dtype']}, "
        f"feature layers {','.join(r['feature_layers'])}")
  for k, v in rows:
    print(f"  {k:<22} {v}")


def _print_infer(r):
  print(f"inference (batch 1, noise off, {r['dtype']}):")
  print(f"  {'size':>6} {'latency':>12} {'min':>12} {'compile':>10} {'FLOPs':>12} {'util':>7} "
        f"{'of matmul':>9}")
  for x in r["results"]:
    print(f"  {x['resolution']:>6} {_fmt_s(x['median_s']):>12} {_fmt_s(x['min_s']):>12} "
          f"{_fmt_s(x['compile_s']) + ('*' if x['compile_cache_hit'] else ''):>10} "
          f"{_fmt_flops(x['flops']):>12} "
          f"{_fmt_pct(x['flop_utilisation']):>7} {_fmt_pct(x.get('fraction_of_matmul')):>9}")
  if any(x["compile_cache_hit"] for x in r["results"]):
    print("  * XLA's program loaded from the persistent compile cache")


def _print_data(r):
  print(f"data pipeline (synthetic_cels, {r['resolution']}x{r['resolution']}, "
        f"{r['hint']} hints):")
  for x in r["results"]:
    print(f"  {x['workers']} workers: {x['examples_per_s']:.1f} examples/s "
          f"(start-up {x['startup_s']:.1f} s)")
  if r["train_images_per_s"]:
    print(f"  the train step consumes {r['train_images_per_s']:.2f} images/s: "
          f"{r['workers_needed']} workers keep it fed")


def _print_hints(r):
  print(f"hints ({r['resolution']}x{r['resolution']} reference, one thread, "
        f"median of {r['repeats']}):")
  for name, x in r["results"].items():
    print(f"  {name:<12} {x['median_ms']:.1f} ms/image")


def run(args, overrides) -> int:
  """`jaxcolor bench`: prints a table and optionally writes --json."""
  from jaxcolor import config_utils  # pylint: disable=g-import-not-at-top
  if args.steps < 0 or args.warmup < 0:
    raise UserError("--steps and --warmup must be >= 0")
  config = config_utils.apply_overrides(config_utils.load_config(args.config), overrides)
  if args.resolution:
    config.image_size = args.resolution
  if args.batch:
    config.per_device_batch_size = args.batch
  whats = ("train", "infer", "data", "hints") if args.what == "all" else (args.what,)
  tuning = host.applied()
  info = device_info()
  report = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), **info,
            "argv": sys.argv,
            "config": args.config, "overrides": list(overrides),
            "resolution": config.image_size, "per_device_batch": config.per_device_batch_size,
            "dtype": config.model.dtype, "host_tuning": tuning}
  print(f"jaxcolor bench  {report['date']}  jax {info['jax']} / jaxlib {info['jaxlib']}")
  print(f"device: {info['device_kind']} ({info['platform']}), {info['local_device_count']} "
        f"local device(s), {info['cpu_count']} host CPUs")
  print(f"config: {args.config} {' '.join('--config.' + o for o in overrides)}".rstrip())
  if info["load_average"]:
    print("host load average (1, 5, 15 min): " +
          ", ".join(f"{x:.2f}" for x in info["load_average"]))
  if info["xla_flags"]:
    print(f"XLA_FLAGS: {info['xla_flags']}")
  if tuning:
    print(f"host tuning (--no-host-tuning turns it off): {'; '.join(tuning)}")
  reference = None
  if {"train", "infer"} & set(whats):
    reference = bench_matmul(config.model.dtype, peak_flops=args.peak_flops)
    report["matmul"] = reference
    print()
    _print_matmul(reference)
  train_ips = None
  for what in whats:
    print()
    if what == "train":
      r = bench_train(config, args.steps, args.warmup, args.devices, args.peak_flops)
      # The reference runs on one device; fake CPU devices share its cores.
      shards = 1 if r["platform"] == "cpu" else r["device_count"]
      r["fraction_of_matmul"] = _of_reference((r["achieved_flops_per_s"] or 0) / shards,
                                              reference)
      train_ips = r["images_per_s"]
      _print_train(r)
    elif what == "infer":
      sizes = (args.resolution,) if args.resolution else INFER_RESOLUTIONS
      r = bench_infer(config, sizes, args.steps, args.warmup, args.peak_flops)
      for x in r["results"]:
        x["fraction_of_matmul"] = _of_reference(x["achieved_flops_per_s"], reference)
      _print_infer(r)
    elif what == "data":
      r = bench_data(config, args.data_dir, train_images_per_s=train_ips)
      _print_data(r)
    elif what == "regions":
      r = bench_regions(args.resolution or 1024, max(args.steps, 1))
      _print_regions(r)
    elif what == "colorize":
      r = bench_colorize(args.checkpoint, args.resolution or 512, max(args.steps, 1))
      _print_colorize(r)
    else:
      r = bench_hints()
      _print_hints(r)
    report[what] = r
    sys.stdout.flush()
  if args.json:
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
      json.dump(report, f, indent=2)
    print(f"\nwrote {args.json}")
  return 0
