# Two commands do everything on a fresh machine: `make run` (the app on the shipped demo model) and `make test`.
# Both create a virtual environment in .venv with what is missing. torch/torchvision are pinned to builds that
# lie on the project's machines; elsewhere override, e.g. `make test TORCH="torch torchvision"`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH ?= torch==2.14.1 torchvision==0.29.1

.PHONY: install browser llama2-tokenizer test run bench demo clean

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

install: $(VENV)/.installed

# Debian chromium + playwright-core for the real-browser test (idempotent; needs apt as root and npm)
browser:
	bash scripts/install-browser.sh

# the real LLaMA-2 (Vicuna-7B v1.5) tokenizer for tests/llama2, built from npm packages into .cache (idempotent; needs npm)
llama2-tokenizer: install
	PY=$(PY) bash scripts/install-llama2-tokenizer.sh

test: install browser llama2-tokenizer
	$(PY) -m pytest

bench: install
	$(PY) bench/bench_compress.py
	$(PY) bench/bench_app.py
	$(PY) bench/bench_demo_query.py
	$(PY) bench/probe_demo_vision.py

# Rebuild the shipped demo model from its seed (about five hours on a 2-core CPU)
demo: install
	$(PY) -m videoexpert.demo build --out checkpoints/videoexpert-demo --work-dir runs/demo --assets assets

run: install
	$(PY) app.py

clean:
	rm -rf $(VENV) .pytest_cache artifacts
