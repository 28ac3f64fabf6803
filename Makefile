# mlx-bench: `make bench` runs the suite on this machine's backends, `make test` proves it correct.
# Both create .venv with the pinned packages first.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ASV_ARGS ?=

MLX_VERSION := $(shell sed -n 's/^mlx==//p' requirements.txt)
ifeq ($(shell uname -s),Darwin)
  MLX_BACKEND_PACKAGE := mlx-metal==$(MLX_VERSION)
else ifneq ($(shell command -v nvidia-smi 2>/dev/null),)
  MLX_BACKEND_PACKAGE := mlx-cuda-13==$(MLX_VERSION)
else
  MLX_BACKEND_PACKAGE := mlx-cpu==$(MLX_VERSION)
endif

.PHONY: bench test table releases timeline clean

$(VENV)/.installed: requirements.txt Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt "$(MLX_BACKEND_PACKAGE)"
	touch $@

test: $(VENV)/.installed
	$(PY) -m pytest tests

bench: $(VENV)/.installed
	$(PY) -m tools.bench $(ASV_ARGS)

table: $(VENV)/.installed
	$(PY) -m tools.speedup_table $(TABLE_ARGS)

releases: $(VENV)/.installed
	$(PY) -m tools.timeline refresh

timeline: $(VENV)/.installed
	$(PY) -m tools.timeline build

clean:
	rm -rf $(VENV) .asv html
