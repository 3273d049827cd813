"""The `jaxcolor` command on the trained micro model (configs/micro.py).

In subprocesses where a fresh process is the point (help without JAX, the
compile cache and kept programs across commands, SIGTERM, one full colorize
round trip); the rest in-process through `cli.main`, which is what the command
runs.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT
from jaxcolor import programs


def jaxcolor(*args, cwd=None, **env_vars):
  env = dict(os.environ, JAX_NUM_CPU_DEVICES="1",
             XLA_FLAGS="--xla_force_host_platform_device_count=1", **env_vars)
  return subprocess.run([sys.executable, "-m", "jaxcolor", *map(str, args)], cwd=cwd or ROOT,
                        env=env, capture_output=True, text=True, timeout=600)


class _Result:
  def __init__(self, returncode, stdout, stderr):
    self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def run_cli(capsys):
  """`jaxcolor ARGS` in this process, as the command runs it: a result like subprocess's."""
  from jaxcolor import cli  # pylint: disable=g-import-not-at-top

  def run(*args):
    capsys.readouterr()
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return _Result(code, out, err)

  return run


def _one_line_error(result, code=2):
  assert result.returncode == code, result.stderr[-2000:]
  assert "Traceback" not in result.stderr
  errors = [l for l in result.stderr.splitlines() if l.startswith("error: ")]
  assert len(errors) == 1, result.stderr
  return errors[0]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
  d = tmp_path_factory.mktemp("inputs")
  rng = np.random.default_rng(0)
  sketch = np.full((299, 401), 255, np.uint8)  # odd size, landscape
  sketch[50:250:7, :] = 0
  sketch[:, 30:380:11] = 0
  Image.fromarray(sketch).save(d / "odd.png")
  ref = rng.integers(0, 255, (128, 96, 3), dtype=np.uint8)
  Image.fromarray(ref).save(d / "ref.jpg")
  (d / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
  return d


COMMANDS = (("demo",), ("train",), ("colorize",), ("palette",), ("serve",), ("evaluate",),
            ("data", "build"), ("data", "starter"), ("data", "characters"), ("export",),
            ("bench",))

_HELP_SCRIPT = """
import contextlib, io, json, sys
from jaxcolor import cli
out = {}
for argv in json.loads(sys.argv[1]):
  text = io.StringIO()
  with contextlib.redirect_stdout(text):
    try:
      cli.main(argv + ["--help"])
    except SystemExit as e:
      code = e.code
  out[" ".join(argv)] = {"code": code, "text": text.getvalue()}
heavy = ("jax", "jaxlib", "numpy", "tensorflow", "tensorflow_datasets", "grain", "flax")
out["imported"] = [m for m in heavy if m in sys.modules]
print(json.dumps(out))
"""


def test_help_of_every_command_imports_no_jax():
  argvs = [[]] + [list(c) for c in COMMANDS]
  result = subprocess.run([sys.executable, "-c", _HELP_SCRIPT, json.dumps(argvs)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=True)
  out = json.loads(result.stdout)
  assert out.pop("imported") == []
  for argv in argvs:
    entry = out[" ".join(argv)]
    assert entry["code"] == 0 and "usage: jaxcolor" in entry["text"], (argv, entry)
  for command in COMMANDS:
    assert command[0] in out[""]["text"]
  # The module docstrings are the commands' descriptions.
  assert "Routes:" in out["serve"]["text"] and "Examples:" in out["data build"]["text"]


def test_colorize_round_trip_keeps_odd_size(trained_run, inputs, tmp_path):
  workdir, _ = trained_run
  out = tmp_path / "out"
  result = jaxcolor("colorize", inputs / "odd.png", "--reference", inputs / "ref.jpg",
                    "--checkpoint", workdir, "--out", out)
  assert result.returncode == 0, result.stderr[-3000:]
  written = Image.open(out / "odd_color.png")
  assert written.size == (401, 299) and written.mode == "RGB"

  again = tmp_path / "again"
  result = jaxcolor("colorize", inputs / "odd.png", "--palette", "#ff0000,#00ff00,#0000ff",
                    "--checkpoint", workdir / "checkpoints" / "2", "--out", again,
                    "--variations", "2", "--seed", "5")
  assert result.returncode == 0, result.stderr[-3000:]
  v0, v1 = (np.asarray(Image.open(again / f"odd_color_v{i}.png")) for i in range(2))
  assert v0.shape == (299, 401, 3)
  assert not np.array_equal(v0, v1)  # seeded noise injection gives distinct variations


def test_a_rerun_loads_the_compiled_generator_without_tracing_it(trained_run, inputs, tmp_path):
  workdir, _ = trained_run
  cache = tmp_path / "cache"
  # JAX_LOG_COMPILES logs every trace and compile of the forward pass.
  env = {"JAXCOLOR_COMPILE_CACHE": str(cache), "JAX_LOG_COMPILES": "1"}
  traced = "Finished tracing forward for jit"
  runs = [jaxcolor("colorize", inputs / "odd.png", "--palette", "#336699", "--checkpoint",
                   workdir, "--out", tmp_path / f"out{i}", **env) for i in range(2)]
  assert all(r.returncode == 0 for r in runs), runs[0].stderr[-3000:]
  assert any(p.name.startswith("jit_forward-") for p in cache.iterdir())
  assert len(list((cache / programs.SUBFOLDER).glob("*" + programs.SUFFIX))) == 1
  # The second command neither traces nor compiles the generator: it loads the kept program.
  assert traced in runs[0].stderr and "jit(forward)" in runs[0].stderr
  assert traced not in runs[1].stderr and "jit(forward)" not in runs[1].stderr
  first, second = (np.asarray(Image.open(tmp_path / f"out{i}" / "odd_color.png"))
                   for i in range(2))
  np.testing.assert_array_equal(first, second)


def test_colorize_batch_skips_bad_file_and_reports_it(trained_run, inputs, tmp_path, run_cli):
  workdir, _ = trained_run
  result = run_cli("colorize", inputs / "odd.png", inputs / "broken.png", "--palette",
                    "#123456", "--checkpoint", workdir, "--out", tmp_path)
  assert result.returncode == 1
  assert "broken.png" in result.stderr and "Traceback" not in result.stderr
  assert (tmp_path / "odd_color.png").exists()


def test_user_mistakes_are_one_line_errors(trained_run, inputs, tmp_path, run_cli):
  workdir, _ = trained_run
  line = _one_line_error(run_cli("colorize", inputs / "odd.png", "--palette", "#12345g",
                                 "--checkpoint", workdir, "--out", tmp_path))
  assert "#12345g" in line
  line = _one_line_error(run_cli("colorize", inputs / "odd.png", "--palette", "#123456",
                                 "--checkpoint", tmp_path / "nowhere"))
  assert "nowhere" in line
  line = _one_line_error(run_cli("colorize", inputs / "odd.png", "--palette", "#123456",
                                 "--checkpoint", workdir, "--step", 3))
  assert "step 3" in line and "2, 4" in line
  line = _one_line_error(run_cli("colorize", inputs / "odd.png", "--palette", "#123456",
                                 "--checkpoint", workdir, "--step", 2, "--best"))
  assert "--step" in line and "--best" in line
  line = _one_line_error(run_cli("train", "--config", ROOT + "/configs/micro.py", "--workdir",
                                 tmp_path, "--config.model.widthz=(1,)"))
  assert "model.widthz" in line and "model.widths" in line
  line = _one_line_error(run_cli("train", "--config", "configs/nope.py", "--workdir", tmp_path))
  assert "configs/nope.py" in line
  line = _one_line_error(run_cli("palette", inputs / "ref.jpg", "--config.seed=1"))
  assert "palette takes no --config" in line


def test_palette_command_prints_hex_usable_as_palette(inputs, tmp_path, run_cli):
  result = run_cli("palette", inputs / "ref.jpg", "--out", tmp_path / "swatch.png")
  assert result.returncode == 0, result.stderr
  first = result.stdout.strip().splitlines()[0]
  colours = first.split(",")
  assert len(colours) == 9 and all(c.startswith("#") and len(c) == 7 for c in colours)
  assert Image.open(tmp_path / "swatch.png").size[0] > 0


def test_evaluate_writes_report_with_baselines(trained_run, tmp_path, run_cli):
  workdir, _ = trained_run
  report_path = tmp_path / "report.json"
  result = run_cli("evaluate", "--checkpoint", workdir, "--num", 4, "--out", report_path,
                    "--sheet", tmp_path / "sheet.png", "--no-perceptual")
  assert result.returncode == 0, result.stderr[-3000:]
  report = json.loads(report_path.read_text())
  self_mode = report["modes"]["self_reference"]["metrics"]
  assert {"model", "sketch", "flat_fill"} <= set(self_mode)
  assert np.isfinite(self_mode["model"]["psnr"])
  assert (tmp_path / "sheet.png").exists()


def test_sigterm_saves_a_checkpoint_and_the_rerun_resumes(synthetic_data_dir, tmp_path):
  import signal  # pylint: disable=g-import-not-at-top
  import time  # pylint: disable=g-import-not-at-top
  from conftest import SYNTHETIC_SIZES  # pylint: disable=g-import-not-at-top
  args = ["-m", "jaxcolor", "train", "--config", "configs/micro.py", "--workdir", tmp_path,
          "--no-progress", "--config.num_train_steps=1000", "--config.per_device_batch_size=1",
          "--config.log_every_steps=1", "--config.checkpoint_every_steps=1000",
          "--config.num_eval_examples=2", f"--config.data.data_dir={synthetic_data_dir}",
          f"--config.data.builder_kwargs.num_train={SYNTHETIC_SIZES['num_train']}",
          f"--config.data.builder_kwargs.num_val={SYNTHETIC_SIZES['num_val']}"]
  env = dict(os.environ, JAX_NUM_CPU_DEVICES="1",
             XLA_FLAGS="--xla_force_host_platform_device_count=1")
  proc = subprocess.Popen([sys.executable, *map(str, args)], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  metrics = tmp_path / "metrics.jsonl"
  deadline = time.time() + 300
  while time.time() < deadline and proc.poll() is None:
    if metrics.exists() and len(metrics.read_text().splitlines()) >= 2:
      break
    time.sleep(0.5)
  proc.send_signal(signal.SIGTERM)
  out, err = proc.communicate(timeout=300)
  assert proc.returncode == 0, err[-3000:]
  assert "SIGTERM: saved step" in err
  saved = [int(s) for s in os.listdir(tmp_path / "checkpoints") if s.isdigit()]
  assert len(saved) == 1 and 2 <= saved[0] < 1000
  # The rerun starts where the signal stopped it.
  rerun = jaxcolor(*[a for a in args[2:] if not str(a).startswith("--config.num_train")],
                   f"--config.num_train_steps={saved[0] + 1}")
  assert rerun.returncode == 0, rerun.stderr[-3000:]
  steps = [json.loads(l)["step"] for l in metrics.read_text().splitlines()
           if "g_loss" in json.loads(l)]
  assert steps[-1] == saved[0] + 1 and steps.count(saved[0] + 1) == 1
