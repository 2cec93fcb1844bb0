# The book's entry points. Everything runs in .venv, which `make venv` creates.
#   make book   build the book: regenerate d2l_local, execute every notebook, export HTML
#   make test   run every test (unit tests, d2l_local sync check, nbval over every notebook)
#   make bench  the benchmarks (tables of speed and BLEU; about 25 minutes on a 2-core CPU)
#   make lab    open the book in JupyterLab
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# torch is installed first, on its own, so that pip never resolves a bare `torch` (on Linux that
# pulls GBs of CUDA packages). Set TORCH_SPEC to choose another build, e.g. TORCH_SPEC='torch>=2.1'.
TORCH_SPEC ?= torch==2.13.0
# Two pytest workers; nbval works with xdist only with --dist loadscope (one worker per notebook).
PYTEST_WORKERS ?= 2
# One intra-op thread per kernel: the book's models are small, and two kernels with two threads
# each on a 2-core machine spend most of their time fighting over cores (measured 10x slower).
# The build uses the same setting as the tests, so stored and re-computed outputs agree.
OMP_NUM_THREADS ?= 1
export OMP_NUM_THREADS

.PHONY: venv d2l check-d2l stamp book test stability bench lab clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install "$(TORCH_SPEC)" || $(PY) -m pip install "torch>=2.1"
	$(PY) -m pip install -e ".[dev]"
	@# matplotlib builds its font cache on first import and says so on stderr, which nbval
	@# would count as a warning in the first chapter that plots: build it now.
	MPLBACKEND=Agg $(PY) -c "import matplotlib.pyplot"
	touch $@

d2l: venv  ## regenerate d2l_local from the notebooks' #@save cells
	$(PY) -m booktools.extract

check-d2l: venv  ## fail when d2l_local differs from the notebooks
	$(PY) -m booktools.extract --check

stamp: venv  ## write the canonical setup cell (Colab install) into every notebook
	$(PY) -m booktools.stamp

book: venv  ## execute every notebook in place (stores outputs) and export HTML to _build/html
	$(PY) -m booktools.build

test: venv  ## every test: sync check, unit tests, nbval over every notebook
	$(PY) -m booktools.extract --check
	time $(PY) -m pytest --nbval -n $(PYTEST_WORKERS) --dist loadscope tests notebooks

stability: venv  ## run the nbval suite 3 times from a clean checkout; report every cell that ever differed
	$(PY) -m booktools.stability --runs 3

bench: venv  ## speed and quality benchmarks; each prints a table (compare.py trains 3 models x 5 min)
	$(PY) bench/train_small.py
	$(PY) bench/decode.py
	$(PY) bench/compare.py

lab: venv  ## open the book in JupyterLab
	$(PY) -m pip install -q "jupyterlab>=4"
	cd notebooks && ../$(VENV)/bin/jupyter lab

clean:
	rm -rf _build
