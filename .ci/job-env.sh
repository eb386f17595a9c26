#!/usr/bin/env bash
# The Python environment notebook-server jobs run in: made from the system Python under /opt so
# that every user's job can read and execute it (a venv inside root's home cannot be).
set -euo pipefail
target="${1:-/opt/vlass-jobenv}"
if ! { [ -x "$target/bin/batchspawner-singleuser" ] && [ -x "$target/bin/jupyter-lab" ]; }; then
  /usr/bin/python3 -m venv "$target"
  "$target/bin/pip" install -q "jupyterhub==6.1.1" "batchspawner==1.3.0" "jupyterlab>=4.4,<4.7" "ipykernel<7"
fi
# ipykernel 6.x, as in pyproject.toml (version 7's subshell thread: kernels crashed under load).
"$target/bin/pip" install -q "ipykernel>=6.29,<7"
# This checkout's jupyter-vlass (the server extension every user's server loads), rebuilt on each run
# so the job environment never runs older code than the hub.
repo="$(cd "$(dirname "$0")/.." && pwd)"
wheels="$(mktemp -d)"
trap 'rm -rf "$wheels"' EXIT
"$target/bin/pip" wheel -q --no-deps -w "$wheels" "$repo"
wheel="$(ls "$wheels"/jupyter_vlass-*.whl)"
# [dask]: analysis jobs may start a Dask cluster of Slurm jobs (dask-jobqueue) from inside the job;
# [capsules]: users' servers publish and verify signed run capsules (OpenSSF Model Signing).
# [models,torch]: detection models run as jobs (the CNN on CPU, or CUDA where a node has it; torch pinned).
"$target/bin/pip" install -q "${wheel}[dask,capsules,models,torch]"
"$target/bin/pip" install -q --force-reinstall --no-deps "$wheel"
# rfc3987-syntax (pulled in by jsonschema[format-nongpl]) compiles 35 Lark parsers when imported, which
# costs every server start about 0.9 s here; no Jupyter event schema uses the iri formats it checks, and
# jsonschema skips those formats when it is absent (jupyter-server/jupyter_server#1559).
if "$target/bin/pip" show -q rfc3987-syntax 2>/dev/null; then
  "$target/bin/pip" uninstall -y -q rfc3987-syntax
fi
# What a demo hub gives every user's server (hub_config/demo_config.py): the example notebooks, and the sample
# data when this checkout has built it (`make sample-data`), both readable by every account.
share="$target/share/jupyter-vlass"
rm -rf "$share/notebooks" && mkdir -p "$share/notebooks" && cp "$repo"/notebooks/*.ipynb "$share/notebooks/"
if [ -d "$repo/data/sample/vlass" ]; then
  rm -rf "$share/sample.new" && mkdir -p "$share/sample.new"
  for part in vlass packages tacc hips; do
    [ -d "$repo/data/sample/$part" ] && cp -a "$repo/data/sample/$part" "$share/sample.new/"
  done
  rm -rf "$share/sample" && mv "$share/sample.new" "$share/sample"
fi
chmod -R a+rX "$target"
