# The book's entry points. Everything runs in .venv, which `make venv` creates.
# `make help` lists the targets with the `##` comment written after each of them below.
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
# The training cells that run for a time budget (chapters 16 and 18, appendix A.2) multiply it by
# D2L_BUDGET_SCALE (d2l.budget_seconds). The tests run them at 5 % of the reader's budget: their check
# cells assert only what holds at any budget, and their budget-dependent outputs are not compared.
TEST_BUDGET_SCALE ?= 0.05

.PHONY: help venv d2l stamp book html test test-all student colab-test browser-test grading-test assignments stability bench lab clean

help:  ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z][a-z0-9-]*:.*## / {printf "  make %-13s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

venv: $(VENV)/.installed  ## create .venv and install the book's code and test tools (every target does this first)

$(VENV)/.installed: pyproject.toml requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install "$(TORCH_SPEC)" || $(PY) -m pip install "torch>=2.1"
	$(PY) -m pip install -e ".[dev]"
	@# matplotlib builds its font cache on first import and says so on stderr, which nbval
	@# would count as a warning in the first chapter that plots: build it now.
	MPLBACKEND=Agg $(PY) -c "import matplotlib.pyplot"
	touch $@

d2l: venv  ## regenerate d2l_local from the notebooks' #@save cells
	$(PY) -m booktools.extract

stamp: venv  ## write the canonical Colab badge and setup cell into every notebook
	$(PY) -m booktools.stamp

book: $(VENV)/.html-installed  ## run every chapter and store its outputs, then the HTML edition in _build/html
	$(PY) -m booktools.build

# HTML tools (Jupyter Book 1.x, offline MathJax, jieba) and browser-test tools (Playwright, JupyterLab)
# are extras: `make test` installs neither.
$(VENV)/.html-installed: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install -e ".[dev,html]"
	touch $@

$(VENV)/.grading-installed: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install -e ".[dev,grading]"
	touch $@

$(VENV)/.browser-installed: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install -e ".[dev,browser]"
	touch $@

html: $(VENV)/.html-installed  ## only the HTML edition (student edition, from the stored outputs) in _build/html
	$(PY) -m booktools.html

student: venv  ## the student edition (solutions stripped) in _build/student/notebooks
	$(PY) -m booktools.student --out _build/student

test: student  ## the main suite: sync checks, unit tests, nbval over both editions of every chapter
	time D2L_BUDGET_SCALE=$(TEST_BUDGET_SCALE) $(PY) -m pytest --nbval -n $(PYTEST_WORKERS) --dist loadscope tests notebooks _build/student/notebooks

test-all: test colab-test browser-test grading-test  ## EVERY test (what CI runs): make test + the Colab simulation, browser tests, nbgrader round trip

colab-test: venv  ## Colab, simulated: a fresh venv with torch runs the setup cell's own pip command, then chapter 1
	D2L_COLAB_TEST=1 TORCH_SPEC='$(TORCH_SPEC)' $(PY) -m pytest -p no:xdist -q tests/system

browser-test: $(VENV)/.browser-installed  ## the HTML edition and JupyterLab in headless Chromium
	scripts/install-browser-deps.sh
	$(PY) -m booktools.html
	time $(PY) -m pytest -p no:xdist tests/tools/test_html.py tests/browser --browser

assignments: venv  ## nbgrader assignments from the teachers' edition: a course directory in _build/assignments
	$(PY) -m booktools.assignments --out _build/assignments

grading-test: $(VENV)/.grading-installed  ## nbgrader round trip: teachers' edition full marks, student version 0, a planted wrong answer per chapter
	time D2L_NBGRADER_TEST=1 $(PY) -m pytest -p no:xdist -q -s tests/system/test_nbgrader.py

stability: venv  ## nbval (both editions) 3 times from a clean checkout; report every cell that ever differed
	D2L_BUDGET_SCALE=$(TEST_BUDGET_SCALE) $(PY) -m booktools.stability --runs 3 --report _build/stability.md

bench: venv  ## the benchmarks: each prints a table of speed or BLEU (see bench/README.md)
	$(PY) -m bench.train_small
	$(PY) -m bench.decode
	$(PY) -m bench.compare
	$(PY) -m bench.translate --out bench/results/translate-$$(date +%F).md
	$(PY) -m bench.ddp

lab: $(VENV)/.browser-installed  ## open the book in JupyterLab
	cd notebooks && ../$(VENV)/bin/jupyter lab

clean:  ## remove _build/
	rm -rf _build
