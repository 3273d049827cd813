"""`jaxcolor bench` on the micro config: the figures exist and are sane, never how fast."""

import json

import pytest

from jaxcolor import cli
from jaxcolor import bench
from jaxcolor import config_utils


@pytest.fixture(scope="module")
def config():
  return config_utils.apply_overrides(config_utils.load_config("configs/micro.py"),
                                      ["per_device_batch_size=2"])


def test_bench_train(config):
  # On all 4 fake devices with conftest's batch: the program conftest's trained_run
  # compiles, so usually a load from the persistent cache (what bench times is the
  # trainer's own step).
  r = bench.bench_train(config, steps=1, warmup=0, devices=4)
  assert r["device_kind"] and r["platform"] == "cpu"
  assert r["device_count"] == 4
  assert r["compile_s"] > 0 and r["median_s"] > 0 and r["images_per_s"] > 0
  assert 0 < r["lower_s"] < r["compile_s"]
  assert r["global_batch"] == 4 * config.per_device_batch_size
  assert r["flops_per_step"] > 0 and 0 < r["flop_utilisation"]
  assert r["host_peak_rss_bytes"] > 0
  assert r["host_cpu_s_per_call"] > 0
  assert r["device_peak_bytes"] is None  # CPU has no memory stats
  assert r["xla_memory"]["total_bytes"] > 0
  assert r["g_loss"] == pytest.approx(r["g_loss"])  # finite, not NaN


def test_bench_infer(config):
  r = bench.bench_infer(config, resolutions=(32,), steps=1, warmup=0)
  assert r["device_kind"]
  (x,) = r["results"]
  assert x["resolution"] == 32 and x["median_s"] > 0 and x["compile_s"] > 0
  assert x["flops"] > 0


def test_bench_rejects_bad_resolution(config):
  from jaxcolor.errors import UserError  # pylint: disable=g-import-not-at-top
  with pytest.raises(UserError, match="stride"):
    bench.bench_infer(config, resolutions=(66,), steps=1)


def test_bench_data(config, tmp_path):
  r = bench.bench_data(config, data_dir=tmp_path, workers=(0,), batches=2, num_train=8,
                       train_images_per_s=1e6)
  (x,) = r["results"]
  assert x["workers"] == 0 and x["examples_per_s"] > 0
  assert r["workers_needed"] >= 1  # nothing feeds a million images/s in-process


def test_select_devices():
  assert len(bench.select_devices()) == 1  # CPU: one, though conftest fakes four
  assert len(bench.select_devices(2)) == 2
  from jaxcolor.errors import UserError  # pylint: disable=g-import-not-at-top
  with pytest.raises(UserError, match="--devices"):
    bench.select_devices(99)


def test_run_hints_json(tmp_path, capsys):
  out = tmp_path / "bench.json"
  args, _ = cli.parse_args(["bench", "--config", "configs/micro.py", "--what", "hints",
                            "--json", str(out)])
  assert bench.run(args, []) == 0
  report = json.loads(out.read_text())
  for key in ("date", "device_kind", "platform", "jax", "config", "hints"):
    assert key in report
  results = report["hints"]["results"]
  assert set(results) == {"palette_rgb", "palette_lab", "histogram"}
  assert all(v["median_ms"] > 0 for v in results.values())
  assert "ms/image" in capsys.readouterr().out


def test_bench_matmul():
  r = bench.bench_matmul(size=64, steps=2, warmup=0)
  assert r["size"] == 64 and r["dtype"] == "float32" and len(r["times_s"]) == 2
  assert r["flops"] == 2 * 64 ** 3
  assert r["flops_per_s"] == pytest.approx(r["flops"] / r["median_s"])
  assert r["flop_utilisation"] == pytest.approx(r["flops_per_s"] / bench.CPU_PEAK_FLOPS)


def test_run_infer_reports_rates_against_this_runs_matmul(tmp_path, capsys):
  out = tmp_path / "bench.json"
  args, _ = cli.parse_args(["bench", "--config", "configs/micro.py", "--what", "infer",
                            "--resolution", "32", "--steps", "1", "--warmup", "0",
                            "--json", str(out)])
  assert bench.run(args, ["seed=3"]) == 0
  report = json.loads(out.read_text())
  matmul = report["matmul"]
  assert matmul["size"] == bench.MATMUL_SIZE_CPU and matmul["flops_per_s"] > 0
  (x,) = report["infer"]["results"]
  assert x["fraction_of_matmul"] == pytest.approx(
      x["achieved_flops_per_s"] / matmul["flops_per_s"])
  assert "reference matmul 2048x2048x2048 float32" in capsys.readouterr().out


def test_compile_timed_tells_a_cold_compile_from_a_cache_load():
  import time  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  # conftest points JAX's persistent cache at .pytest_cache/jax, storing every
  # program; a constant new to this run makes the first compile a real one.
  salt = float(time.time_ns() % 10 ** 9)
  x = jnp.ones((8,))
  first = bench.compile_timed(jax.jit(lambda v: jnp.sin(v) * salt), x)
  # A new jit wrapper skips the in-memory caches and asks the persistent one.
  again = bench.compile_timed(jax.jit(lambda v: jnp.sin(v) * salt), x)
  assert not first["compile_cache_hit"] and again["compile_cache_hit"]
  assert 0 < again["lower_s"] <= again["compile_s"]
  assert float(again["compiled"](x)[0]) == float(first["compiled"](x)[0])


def test_peak_flops_lookup():
  class Device:
    platform, device_kind = "gpu", "NVIDIA H100 80GB HBM3"
  assert bench.default_peak_flops(Device(), "bfloat16") == 989e12
  Device.device_kind = "Mystery accelerator"
  assert bench.default_peak_flops(Device(), "bfloat16") is None
