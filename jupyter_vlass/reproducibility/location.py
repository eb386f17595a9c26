"""Where a site's keys and published capsules live (the CLI and the server agree).

Under a hub with the vlass service (``$JUPYTER_VLASS_HUB_SERVICE`` and the server's hub token), the
site's keys are the service's: it signs, and its public keys verify. Elsewhere the keyring is a folder.
"""

from __future__ import annotations

import os


def keyring(folder: str | None = None):
    """The site's keyring: ``folder``, else ``$JUPYTER_VLASS_KEYS``, else the data directory's ``keys``."""
    from .keys import Keyring
    from ..store.location import data_dir

    return Keyring(folder or os.environ.get("JUPYTER_VLASS_KEYS") or data_dir() / "keys")


def _hub():
    from ..hub_client import HubServiceClient, service_from_environment

    found = service_from_environment()
    return HubServiceClient(found[0], token=found[1]) if found else None


def signer(folder: str | None = None):
    """Who signs: the keyring ``folder`` when named, else the hub service under a hub, else the keyring."""
    from .signing import HubSigner, KeyringSigner

    hub = None if folder else _hub()
    return HubSigner(hub) if hub else KeyringSigner(keyring(folder))


def public_keys(folder: str | None = None):
    """What capsules are verified against: as :func:`signer` chooses, the public side."""
    from .signing import HubKeys

    hub = None if folder else _hub()
    return HubKeys(hub) if hub else keyring(folder)


def capsule_store(folder: str | None = None):
    """The artifact store: ``folder``, else ``$JUPYTER_VLASS_CAPSULES``, else the data directory's ``capsules``."""
    from .store import CapsuleStore
    from ..store.location import data_dir

    return CapsuleStore(folder or os.environ.get("JUPYTER_VLASS_CAPSULES") or data_dir() / "capsules")
