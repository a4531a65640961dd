# Two commands on a fresh machine: `make run` (set up, train the default model on MNIST-1D) and
# `make test` (set up, run the test suite). `make bench` runs the benchmarks.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
ARGS ?=

.PHONY: setup run test test-fast lint bench claims clean

setup: $(VENV)/.installed

# torch is installed first and pinned, so that nothing pulls a multi-GB CUDA build instead of
# the CPU wheel this project's machines carry. The cluster extra (Dask) is for the --cluster tests.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[test,cluster]'
	touch $@

run: setup
	$(BIN)/trainlab train $(ARGS)

# ruff: the linter and the formatter's check, on src and tests, before the suite
lint: setup
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

test: lint
	$(BIN)/python -m pytest -q

# The fast tier, for the edit-test loop (under a minute on two cores): no test marked slow
# (over ~2 s) or multiprocess (starts processes); `make test` (CI) runs them all. One intra-op
# thread: on two cores shared with other work, PyTorch's OpenMP threads wait for each other on
# the many small ops and the tier took 100 s instead of 27 s (measured with a load of about 4).
test-fast: setup
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -m "not slow and not multiprocess"

bench: setup
	$(BIN)/python benchmarks/loop_overhead.py
	$(BIN)/python benchmarks/optimizers.py

# The claims' record (docs/claims): the whole catalogue on a second seed set, then on the first,
# which is compared with it and published with the commit it ran from.
CLAIMS_OUT ?= runs/claims-record
claims: setup
	$(BIN)/trainlab claims --seed-offset 1000 --out $(CLAIMS_OUT)
	$(BIN)/trainlab claims --out $(CLAIMS_OUT) --publish docs/claims

clean:
	rm -rf $(VENV) runs
