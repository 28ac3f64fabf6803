# mlx-bench: `make bench` runs the suite on this machine's backends, `make test` proves it correct.
# Both create .venv with the pinned packages first.

PYTHON ?= python3
# Not a knob: `clean` deletes it, so a value given on the command line (VENV=..) must not count.
override VENV := .venv
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

.PHONY: bench test table releases timeline site browser clean

$(VENV)/.installed: requirements.txt Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt "$(MLX_BACKEND_PACKAGE)"
	touch $@

test: $(VENV)/.installed browser
	$(PY) -m pytest tests

# The site test loads a published page in headless Chromium. On Debian as root (CI) a missing
# Chromium is installed here; elsewhere that test skips and says why.
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && grep -qx 'ID=debian' /etc/os-release 2>/dev/null; then \
	    echo "installing chromium and chromium-driver for the browser test (apt-get)"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; } \
	      || echo "note: apt-get could not install chromium: the browser test will skip (the site's data is still checked)"; \
	  else echo "note: no chromium/chromedriver here: the browser test will skip"; fi; \
	fi

# The published site of every machine's results, usable without internet (asv preview serves it).
site: $(VENV)/.installed
	$(PY) -m asv publish && $(PY) -m tools.site offline html

bench: $(VENV)/.installed
	$(PY) -m tools.bench $(ASV_ARGS)

table: $(VENV)/.installed
	$(PY) -m tools.speedup_table $(TABLE_ARGS)

releases: $(VENV)/.installed
	$(PY) -m tools.timeline refresh

timeline: $(VENV)/.installed
	$(PY) -m tools.timeline build

clean:
	rm -rf $(VENV) .asv html html-upstream
