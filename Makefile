# The book's entry points. Everything runs in .venv, which `make venv` creates.
#   make book   build the book: regenerate d2l_local, execute every notebook, then the HTML edition
#   make html   only the HTML edition (from the stored outputs) in _build/html
#   make test-all  run every test (what CI runs): make test + colab-test + browser-test
#   make test   the main suite (sync checks, unit tests, nbval over both editions of every notebook)
#   make student  the student edition (solutions stripped) in _build/student/notebooks
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

.PHONY: venv d2l check-d2l stamp book html test test-all student colab-test browser-test stability bench lab clean

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

book: $(VENV)/.html-installed  ## execute every notebook in place (stores outputs), then the HTML edition (student edition) in _build/html
	$(PY) -m booktools.build

# HTML tools (Jupyter Book 1.x, offline MathJax, jieba) and browser-test tools (Playwright, JupyterLab)
# are extras: `make test` installs neither.
$(VENV)/.html-installed: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install -e ".[dev,html]"
	touch $@

$(VENV)/.browser-installed: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install -e ".[dev,browser]"
	touch $@

html: $(VENV)/.html-installed  ## the HTML edition (student edition, Jupyter Book 1.x, offline) in _build/html
	$(PY) -m booktools.html

browser-test: $(VENV)/.browser-installed  ## the HTML edition and JupyterLab in headless Chromium (Debian's chromium + fonts-noto-cjk)
	scripts/install-browser-deps.sh
	$(PY) -m booktools.html
	time $(PY) -m pytest -p no:xdist tests/test_html.py tests/browser --browser

test: venv  ## every test: sync checks, unit tests, nbval over both editions of every notebook
	$(PY) -m booktools.extract --check
	$(PY) -m booktools.stamp --check
	$(PY) -m booktools.student --out _build/student
	time $(PY) -m pytest --nbval -n $(PYTEST_WORKERS) --dist loadscope tests notebooks _build/student/notebooks

test-all: test colab-test browser-test  ## EVERY test (what CI runs): make test, the Colab simulation, the browser tests

student: venv  ## the student edition (solutions stripped) in _build/student/notebooks
	$(PY) -m booktools.student --out _build/student

colab-test: venv  ## Colab, simulated: fresh venv with torch, the setup cell's own pip command, chapter 1 (~3 min)
	D2L_COLAB_TEST=1 TORCH_SPEC='$(TORCH_SPEC)' $(PY) -m pytest -p no:xdist -q tests/system

stability: venv  ## run the nbval suite (both editions) 3 times from a clean checkout; report every cell that ever differed
	$(PY) -m booktools.stability --runs 3 --report _build/stability.md

bench: venv  ## speed and quality benchmarks; each prints a table (compare.py trains 3 models x 5 min)
	$(PY) bench/train_small.py
	$(PY) bench/decode.py
	$(PY) bench/compare.py

lab: $(VENV)/.browser-installed  ## open the book in JupyterLab
	cd notebooks && ../$(VENV)/bin/jupyter lab

clean:
	rm -rf _build
