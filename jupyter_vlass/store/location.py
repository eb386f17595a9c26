"""Where the registry lives by default (standard library only: read at every server start)."""

from __future__ import annotations

import os
from pathlib import Path

DB_ENV = "JUPYTER_VLASS_DB"


def data_dir() -> Path:
    """The user's jupyter-vlass data directory (``$XDG_DATA_HOME/jupyter-vlass``)."""
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "jupyter-vlass"


def default_db_url() -> str:
    """``$JUPYTER_VLASS_DB``, else an SQLite file in the user's data directory."""
    if os.environ.get(DB_ENV):
        return os.environ[DB_ENV]
    return f"sqlite:///{data_dir() / 'registry.sqlite'}"
