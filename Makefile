# jupyter-vlass: `make demo` (the main job on the embedded default) and `make test` (everything the
# tests need, system packages included). Both work on a fresh Debian/Ubuntu machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAMPLE := data/sample
DEMO_DB ?= sqlite:///$(CURDIR)/.demo/registry.sqlite
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

.PHONY: demo test install system-deps sample-data bench lint clean

demo: install sample-data  ## JupyterLab with the extension and the discovery notebook, on SQLite
	@mkdir -p .demo
	$(BIN)/jupyter-vlass --db "$(DEMO_DB)" demo-data $(SAMPLE) --hips --seed >/dev/null
	JUPYTER_VLASS_DB="$(DEMO_DB)" $(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" --ip=127.0.0.1 \
		$(ROOT_FLAG) $(DEMO_ARGS) notebooks/01-discover-datasets.ipynb

test: system-deps install  ## install what the tests need, then run the whole suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

system-deps:
	@bash .ci/system-deps.sh

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip wheel

install: $(BIN)/python
	$(BIN)/pip install -q -e ".[test]"
	$(BIN)/jupyter server extension enable --sys-prefix jupyter_vlass >/dev/null

sample-data: install
	$(BIN)/jupyter-vlass demo-data $(SAMPLE) --hips >/dev/null

bench: install  ## benchmarks (figures go to benchmarks/README.md by hand, with date and machine)
	$(BIN)/python benchmarks/region_query.py --n 1000000 --json

clean:
	rm -rf $(VENV) .demo data/sample jupyter_vlass/labextension labextension/lib labextension/node_modules
