# Two commands on a fresh machine: `make demo` (compose a tune into ./out, or run the bot when
# DISCORD_TOKEN is set) and `make test`. Both set themselves up first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# torch 2.13.0 is the CPU build kept on this project's machines; elsewhere pick a CPU wheel with
# TORCH_SPEC, e.g. TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" (see README).
TORCH_SPEC ?= torch==2.13.0

.PHONY: setup system-deps demo test bench lint clean

system-deps:
	./scripts/install-system-deps

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_SPEC)
	$(PY) -m pip install -q -e ".[test]"
	touch $@

setup: system-deps $(VENV)/.installed

demo: setup
	@if [ -n "$$DISCORD_TOKEN" ]; then $(VENV)/bin/tunesmith run; \
	else $(VENV)/bin/tunesmith compose --style jig --length 32 --out out && ls -l out; fi

test: setup
	$(PY) -m pytest -q

bench: setup
	for b in bench/*.py; do $(PY) $$b || exit 1; done

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/hadolint Dockerfile

clean:
	rm -rf $(VENV) out .pytest_cache
