# GMI — Global Mineral Indices. `make help` lists the targets.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export QT_QPA_PLATFORM ?= offscreen
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help install test test-unit test-qgis lint demo bench clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt .ci/install_debian.sh
	bash .ci/install_debian.sh
	test -x $(PY) || /usr/bin/python3 -m venv --system-site-packages $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	$(PY) -c "import numpy, osgeo.gdal, pyproj, pyhdf.SD, Py6S, odps; assert numpy.__version__.startswith('1.'), numpy.__version__"
	touch $@

install: $(STAMP) ## Install Debian packages (when missing) and the .venv with GMI and its tools

lint: install ## Check the kernel is Python 3.7 syntax, numpy + stdlib only
	$(VENV)/bin/vermin -t=3.7- --no-tips --violations gmi_engine/kernel

test: install lint ## Run every test (engine, QGIS plugin, end to end)
	$(PY) -m pytest -p no:qgis -p no:cacheprovider tests/unit $(wildcard tests/e2e) -q
	$(PY) -m pytest -p no:cacheprovider tests/qgis -q

test-unit: install ## Engine tests only (no QGIS)
	$(PY) -m pytest -p no:qgis tests/unit -q

demo: install ## Synthesise the demo set and run the main job end to end
	$(VENV)/bin/gmi demo --output demo-output

bench: install ## Benchmarks
	$(PY) -m pytest -p no:qgis benchmarks -q

clean: ## Remove the venv and caches
	rm -rf $(VENV) .pytest_cache .hypothesis .benchmarks build *.egg-info
