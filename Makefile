# langid-tfx: the two commands of the quick start, plus the benchmarks.
#   make demo   install the pinned stack into .venv and run the whole pipeline locally
#   make test   install the stack plus test tools, lint (ruff), then run the test suite (CI runs this)
VENV ?= .venv
PY := $(VENV)/bin/python
ARGS ?=
PYTEST_ARGS ?=

.PHONY: install install-test lint demo test bench bench-scale clean

install:
	bash scripts/install.sh --venv $(VENV)

install-test:
	bash scripts/install.sh --venv $(VENV) --test

demo: install
	$(PY) local_runner.py $(ARGS)

test: install-test lint
	$(PY) -m pytest tests $(PYTEST_ARGS)

lint: install-test
	$(PY) -m ruff check .

bench: install
	$(PY) -m bench.decoders
	@if [ -d serving_model/langid ]; then $(PY) -m bench.serving; else echo "bench.serving: no serving_model/langid yet (run make demo)"; fi

bench-scale: install
	$(PY) -m bench.scale $(ARGS)

clean:
	rm -rf tfx_output serving_model .pytest_cache
