# Two entry points: `make demo` and `make test`. Both set up .venv themselves.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
WORKERS ?= 2
# `make demo DEMO_ARGS=--small`: a one-minute check that every step runs (6 small patients, one epoch)
DEMO_ARGS ?=

.PHONY: demo test install install-dev bench lint student clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -e '.[dev]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: $(VENV)/.installed
	$(VENV)/bin/camelyon demo --out runs/demo $(DEMO_ARGS)

# One BLAS/Numba thread per pytest worker: with two workers on two cores, more threads only
# oversubscribe the machine (measured 20-40x slower small-network steps under load).
test: $(VENV)/.installed-dev
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1 \
	$(PY) -m pytest -n $(WORKERS) --dist loadgroup -q

bench: $(VENV)/.installed-dev
	$(PIP) install -e '.[bench]'
	$(PY) benchmarks/run_all.py

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check minicnn camelyon tests benchmarks

# Instructors: write the student edition (solution regions replaced by NotImplementedError stubs).
student: $(VENV)/.installed-dev
	$(PY) -m minicnn.teaching release student_edition --force

clean:
	rm -rf $(VENV) runs build *.egg-info
