"""Where a site's keys and published capsules live (the CLI and the server agree).

Under a hub with the vlass service (``$JUPYTER_VLASS_HUB_SERVICE`` and the server's hub token), the
site's keys are the service's: it signs, and its public keys verify; the hub's config makes the capsule store
the service's too (``$JUPYTER_VLASS_CAPSULES=hub``). Elsewhere the keyring and the store are folders.
"""

from __future__ import annotations

import os

from ..exceptions import InvalidArgument
from ..hub_client import HubServiceClient, service_from_environment
from ..store.location import data_dir
from .hub_store import HubCapsuleStore
from .keys import Keyring
from .signing import HubKeys, HubSigner, KeyringSigner
from .store import CapsuleStore


CAPSULES_ENV = "JUPYTER_VLASS_CAPSULES"


def keyring(folder: str | None = None):
    """The site's keyring: ``folder``, else ``$JUPYTER_VLASS_KEYS``, else the data directory's ``keys``."""
    return Keyring(folder or os.environ.get("JUPYTER_VLASS_KEYS") or data_dir() / "keys")


def _hub():
    found = service_from_environment()
    return HubServiceClient(found[0], token=found[1]) if found else None


def signer(folder: str | None = None):
    """Who signs: the keyring ``folder`` when named, else the hub service under a hub, else the keyring."""
    hub = None if folder else _hub()
    return HubSigner(hub) if hub else KeyringSigner(keyring(folder))


def public_keys(folder: str | None = None):
    """What capsules are verified against: as :func:`signer` chooses, the public side."""
    hub = None if folder else _hub()
    return HubKeys(hub) if hub else keyring(folder)


def capsule_store(location: str | None = None):
    """The artifact store: ``location``, else ``$JUPYTER_VLASS_CAPSULES``, else the data directory's
    ``capsules``; ``hub`` (the hub's config sets it in users' servers) is the hub service's store, which every
    user of the hub reads. An ``s3://bucket/prefix`` store takes its endpoint from ``$JUPYTER_VLASS_CAPSULES_ENDPOINT``
    (else AWS's default) and its credentials as boto does (``$AWS_ACCESS_KEY_ID``...)."""
    where = str(location or os.environ.get(CAPSULES_ENV) or data_dir() / "capsules")
    if where == "hub":
        hub = _hub()
        if hub is None:
            raise InvalidArgument(f"{CAPSULES_ENV}=hub: the hub service's store, reachable only under a hub "
                                  "(no $JUPYTER_VLASS_HUB_SERVICE and $JUPYTERHUB_API_TOKEN here)")
        return HubCapsuleStore(hub)
    endpoint = os.environ.get("JUPYTER_VLASS_CAPSULES_ENDPOINT")
    options = {"client_kwargs": {"endpoint_url": endpoint}} if where.startswith("s3://") and endpoint else {}
    return CapsuleStore(where, storage_options=options)
