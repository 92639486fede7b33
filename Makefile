# Two commands do all the set-up on a fresh machine:
#   make demo   -> creates .venv if missing, installs seqae, runs the anomaly-detection demo on built-in data
#   make test   -> creates .venv if missing, installs seqae with test extras, runs the test suite
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.seqae-installed

.PHONY: demo test venv bench-perf bench-nab bench-uea clean distclean

$(BIN)/python:
	$(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned: the CPU wheel lies on disk; an unpinned torch would pull a multi-GB CUDA build
	$(BIN)/pip install -q torch==2.13.0

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e ".[test]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/seqae demo --output-dir demo_output

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 tests

# The Keras comparison needs TensorFlow: perf_setup.sh builds .venv-bench (torch 2.13.0 first, tensorflow-cpu).
PERF_ARGS ?=
bench-perf:
	bash benchmarks/perf_setup.sh
	.venv-bench/bin/python benchmarks/perf.py $(PERF_ARGS)

bench-nab: $(STAMP)
	$(BIN)/python benchmarks/nab.py

bench-uea: $(STAMP)
	$(BIN)/python benchmarks/uea.py

# clean keeps the virtual environment (others may be using it); distclean removes it too.
clean:
	rm -rf demo_output build *.egg-info src/*.egg-info

distclean: clean
	rm -rf $(VENV)
