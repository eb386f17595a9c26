"""Where a site's keys and published capsules live (the CLI and the server agree)."""

from __future__ import annotations

import os


def keyring(folder: str | None = None):
    """The site's keyring: ``folder``, else ``$JUPYTER_VLASS_KEYS``, else the data directory's ``keys``."""
    from .keys import Keyring
    from ..store.location import data_dir

    return Keyring(folder or os.environ.get("JUPYTER_VLASS_KEYS") or data_dir() / "keys")


def capsule_store(folder: str | None = None):
    """The artifact store: ``folder``, else ``$JUPYTER_VLASS_CAPSULES``, else the data directory's ``capsules``."""
    from .store import CapsuleStore
    from ..store.location import data_dir

    return CapsuleStore(folder or os.environ.get("JUPYTER_VLASS_CAPSULES") or data_dir() / "capsules")
