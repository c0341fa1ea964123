# The two commands of the README: `make figures` (main job) and `make test`.
# Each one creates or updates the virtual environment in .venv first.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: venv figures test test-fast bench notebooks clean-cache lab

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (or make PYTHON=python3 ...)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP)

figures: $(STAMP)
	$(VENV)/bin/nasbench-lab figures

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadgroup

test-fast: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadgroup -m "not slow and not browser"

bench: $(STAMP)
	$(VENV)/bin/nasbench-lab bench

notebooks: $(STAMP)
	$(PY) -m nasbench_lab.notebook

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

# downloads and built caches (data/cache, or $$NASBENCH_LAB_DATA/cache); the bundled tables
# in data/ and the virtual environment stay
clean-cache:
	@test -x $(PY) || { echo "no $(PY): nothing was installed, so nothing was cached"; exit 0; }
	$(PY) -c "import shutil, nasbench_lab.paths as p; d = p.cache_dir(); shutil.rmtree(d); print('removed', d)"
