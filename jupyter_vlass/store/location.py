"""Where the registry lives by default (standard library only: read at every server start)."""

from __future__ import annotations

import os
from pathlib import Path

DB_ENV = "JUPYTER_VLASS_DB"


def default_db_url() -> str:
    """``$JUPYTER_VLASS_DB``, else an SQLite file in the user's data directory."""
    if os.environ.get(DB_ENV):
        return os.environ[DB_ENV]
    data_home = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return f"sqlite:///{data_home / 'jupyter-vlass' / 'registry.sqlite'}"
