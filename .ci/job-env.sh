#!/usr/bin/env bash
# The Python environment notebook-server jobs run in: made from the system Python under /opt so
# that every user's job can read and execute it (a venv inside root's home cannot be).
set -euo pipefail
target="${1:-/opt/vlass-jobenv}"
if [ -x "$target/bin/batchspawner-singleuser" ] && [ -x "$target/bin/jupyter-lab" ]; then exit 0; fi
/usr/bin/python3 -m venv "$target"
"$target/bin/pip" install -q "jupyterhub==6.1.1" "batchspawner==1.3.0" "jupyterlab>=4.4,<4.7" ipykernel
chmod -R a+rX "$target"
