# jupyter-vlass: `make demo` (the main job on the embedded default) and `make test` (everything the
# tests need, system packages included). Both work on a fresh Debian/Ubuntu machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAMPLE := data/sample
DEMO_DB ?= sqlite:///$(CURDIR)/.demo/registry.sqlite
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
# Jobs never run as root: as root, the demo runs them as the account vlass-demo, in the world-readable job
# environment (/opt/vlass-jobenv), which root's own checkout and virtual environment may not be.
DEMO_JOB_ENV := $(shell [ "$$(id -u)" = 0 ] && echo job-env)

.PHONY: demo demo-hub test install job-env system-deps sample-data bench clean

demo: install sample-data $(DEMO_JOB_ENV)  ## JupyterLab with the extension and the three notebooks, on SQLite
	@mkdir -p .demo
	$(BIN)/jupyter-vlass --db "$(DEMO_DB)" demo-data $(SAMPLE) --hips --seed --jobs-config .demo/jobs.yaml >/dev/null
	JUPYTER_VLASS_DB="$(DEMO_DB)" JUPYTER_VLASS_JOBS_CONFIG="$(CURDIR)/.demo/jobs.yaml" $(BIN)/jupyter lab \
		--ServerApp.root_dir="$(CURDIR)" --ip=127.0.0.1 $(ROOT_FLAG) $(DEMO_ARGS) notebooks/01-discover-datasets.ipynb

demo-hub: system-deps install sample-data job-env  ## JupyterHub on the local Slurm (fake A100s): log in as alice / vlass-demo
	sudo python3 hub_config/local_slurm.py up
	for u in alice bob admin; do id $$u >/dev/null 2>&1 || sudo useradd --create-home --shell /bin/bash $$u; done
	@mkdir -p .demo/hub
	$(BIN)/jupyter-vlass --db "sqlite:///$(CURDIR)/.demo/hub/vlass-hub.sqlite" allocations grant alice 200 >/dev/null
	$(BIN)/jupyter-vlass --db "sqlite:///$(CURDIR)/.demo/hub/vlass-hub.sqlite" allocations grant bob 20 >/dev/null
	cd .demo/hub && sudo -E $(CURDIR)/$(BIN)/jupyterhub -f $(CURDIR)/hub_config/demo_config.py

test: system-deps install sample-data job-env  ## install what the tests need, then run the whole suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

system-deps:
	@bash .ci/system-deps.sh

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip wheel

install: $(BIN)/python
	$(BIN)/pip install -q -e ".[test,torch]" -e "./spawners[oidc]"
	$(BIN)/jupyter server extension enable --sys-prefix jupyter_vlass >/dev/null

job-env:  ## the world-readable Python environment notebook-server jobs run in (/opt/vlass-jobenv)
	@[ "$$(id -u)" = 0 ] && bash .ci/job-env.sh || sudo bash .ci/job-env.sh

sample-data: install
	$(BIN)/jupyter-vlass demo-data $(SAMPLE) --hips >/dev/null

bench: install  ## benchmarks (figures go to benchmarks/README.md by hand, with date and machine)
	$(BIN)/python benchmarks/region_query.py --n 1000000 --json

clean:
	rm -rf $(VENV) .demo data/sample jupyter_vlass/labextension labextension/lib labextension/node_modules
