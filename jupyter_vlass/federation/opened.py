"""The datasets a run opened through the federation, noted as it goes.

Inside an analysis job the runner sets ``$JUPYTER_VLASS_OPENED`` to a file in the job's directory;
:meth:`Registry.get <jupyter_vlass.federation.registry.Registry.get>` and ``Registry.open`` append each
dataset version they hand out (id, version, uri, sha256). The run's capsule then names every dataset the
notebook read, not only its pinned inputs, with nothing typed by the author. Outside a job nothing is noted.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

ENV = "JUPYTER_VLASS_OPENED"


def note_opened(record):
    """Append ``record`` (a DatasetRecord) to the run's list when inside a job; return it unchanged."""
    path = os.environ.get(ENV)
    if path:
        line = json.dumps({"id": record.dataset_id, "version": record.version, "uri": record.uri,
                           "sha256": record.sha256}) + "\n"
        with open(path, "a") as fh:  # one short append per record: whole lines even from several kernels
            fh.write(line)
    return record


def read_opened(path: str | os.PathLike) -> list[dict]:
    """The distinct dataset versions noted in ``path``, in the order first opened ([] when none)."""
    found: dict[tuple, dict] = {}
    try:
        lines = Path(path).read_text().splitlines()
    except FileNotFoundError:
        return []
    for line in lines:
        try:
            item = json.loads(line)
            found.setdefault((item["id"], item["version"]), {k: str(item[k]) for k in ("id", "version", "uri", "sha256")})
        except (ValueError, KeyError, TypeError):
            continue  # a line cut short by a killed kernel
    return list(found.values())
