# Two commands do everything on a fresh machine: `make run` (the app on the shipped demo model) and `make test`.
# Both create a virtual environment in .venv with what is missing, at the exact versions of requirements.lock.
# torch/torchvision are pinned to builds that lie on the project's machines; elsewhere override, e.g.
# `make test TORCH="torch torchvision"`.
#
#   make test         the default suite, `-m "not slow"` (a few minutes on 2 CPU cores)
#   make test-slow    only the tests marked @pytest.mark.slow (long trainings, the shipped demo end to end)
#   make wheel-check  build the wheel, install it in a clean venv and predict from outside the checkout
#   make test-latest  the whole suite in .venv-latest with the newest releases (no lock): try an upgrade
#   make lock         rewrite requirements.lock from .venv (`make lock VENV=.venv-latest` adopts test-latest's)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH ?= torch==2.14.1 torchvision==0.29.1
LOCK := requirements.lock
VENV_LATEST ?= .venv-latest
TORCH_LATEST ?= $(TORCH)

.PHONY: install browser llama2-tokenizer test test-slow test-latest latest-venv lock wheel-check run bench demo clean

# pip install -c: the lock pins every version without installing anything requirements-dev.txt does not ask for
$(VENV)/.installed: requirements.txt requirements-dev.txt $(LOCK) pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c $(LOCK) $(TORCH)
	$(PY) -m pip install -q -c $(LOCK) -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $@

install: $(VENV)/.installed

# Debian chromium + playwright-core for the real-browser test (idempotent; needs apt as root and npm)
browser:
	bash scripts/install-browser.sh

# the real LLaMA-2 (Vicuna-7B v1.5) tokenizer for tests/llama2, built from npm packages into .cache (idempotent; needs npm)
llama2-tokenizer: install
	PY=$(PY) bash scripts/install-llama2-tokenizer.sh

# the default suite: everything but the tests marked slow (`-m` here, not in pytest's addopts, so that
# `pytest -m slow` and a plain `pytest` still select what they say)
test: install browser llama2-tokenizer
	$(PY) -m pytest -m "not slow"

# the slow tests only; CI (.ci/run) runs them after `make test`
test-slow: install browser llama2-tokenizer
	$(PY) -m pytest -m slow

# An upgrade is a deliberate step: the whole suite (slow tests too) in a second venv with the newest release of
# every requirement (TORCH_LATEST, default TORCH, for torch), then what differs from the lock. If it passes,
# `make lock VENV=.venv-latest` and commit requirements.lock.
test-latest: latest-venv browser
	$(VENV_LATEST)/bin/python scripts/lock.py | diff $(LOCK) - || true
	$(VENV_LATEST)/bin/python -m pytest

# .venv-latest alone, created or upgraded to the newest releases (to run a few tests there by hand)
latest-venv:
	$(PYTHON) -m venv $(VENV_LATEST)
	echo '*' > $(VENV_LATEST)/.gitignore
	$(VENV_LATEST)/bin/python -m pip install -q --upgrade pip
	$(VENV_LATEST)/bin/python -m pip install -q --upgrade --upgrade-strategy eager $(TORCH_LATEST) -r requirements-dev.txt
	$(VENV_LATEST)/bin/python -m pip install -q --no-deps --no-build-isolation -e .
	PY=$(VENV_LATEST)/bin/python bash scripts/install-llama2-tokenizer.sh

# requirements.lock from the venv's installed versions (only what requirements-dev.txt pulls in; see its header)
lock:
	$(PY) scripts/lock.py --out $(LOCK)

# the wheel a user installs: built, checked for size and contents, installed with the lock into a clean venv,
# and asked for `videoexpert --help` and a prediction on a bundled example from outside the checkout
wheel-check:
	PYTHON=$(PYTHON) TORCH="$(TORCH)" LOCK=$(LOCK) bash scripts/check-wheel.sh

bench: install
	$(PY) bench/bench_compress.py
	$(PY) bench/bench_app.py
	$(PY) bench/bench_demo_query.py
	$(PY) bench/probe_demo_vision.py

# Rebuild the shipped demo model from its seed (about five hours on a 2-core CPU)
demo: install
	$(PY) -m demo build --out checkpoints/videoexpert-demo --work-dir runs/demo --assets assets

run: install
	$(PY) app.py

clean:
	rm -rf $(VENV) $(VENV_LATEST) .pytest_cache artifacts
