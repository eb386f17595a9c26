"""The hub's capsule store, as a user's server and kernel reach it: through the hub service.

The same calls as :class:`~.store.CapsuleStore`. Publishing sends the signed capsule to the service, which
verifies it and keeps it where every user of the hub finds it; :meth:`HubCapsuleStore.path` copies a capsule
into the user's own data directory (private to them) for verify, replay and diff.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

from ..jobs.staging import sha256_file
from ..store.location import data_dir
from ..jobs.archive import pack, unpack
from .store import CAPSULE_ID, UnknownAnalysis, notebook_in_capsule


def _private(folder: Path) -> Path:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    return folder


class HubCapsuleStore:
    """Capsules held by the hub service (``client``: a :class:`~jupyter_vlass.hub_client.HubServiceClient`)."""

    url = "hub"
    local = False

    def __init__(self, client, *, cache: str | Path | None = None):
        self.client = client
        self._cache = Path(cache) if cache else data_dir() / "capsule-cache"

    @staticmethod
    def _checked(capsule_id) -> str:
        if not isinstance(capsule_id, str) or not CAPSULE_ID.match(capsule_id):
            raise UnknownAnalysis(f"no published analysis {str(capsule_id)[:64]!r}")
        return capsule_id

    def show(self, capsule_id: str) -> dict:
        return self.client.request("GET", f"api/capsules/{self._checked(capsule_id)}")

    def exists(self, capsule_id: str) -> bool:
        try:
            self.show(capsule_id)
        except UnknownAnalysis:
            return False
        return True

    def key_of(self, capsule_id: str) -> str:
        return self.show(capsule_id)["key_id"]

    def path(self, capsule_id: str) -> Path:
        """The capsule copied once into the user's cache (checked by whoever uses it: verify, replay)."""
        target = self._cache / self._checked(capsule_id)
        if (target / "capsule.sig").exists():
            return target
        with self.client.stream(f"api/capsules/{capsule_id}/archive") as answer:
            data = answer.read()
        partial = _private(self._cache) / f".{capsule_id}.{uuid.uuid4().hex}"
        try:
            unpack(data, partial)
            if not target.exists():
                partial.rename(target)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
        return target

    def staging(self) -> Path:
        return _private(data_dir() / "capsule-staging")

    def add(self, folder: Path, capsule_id: str) -> bool:
        """Send a signed capsule to the service; False when the hub already held it."""
        doc = self.client.request("POST", "api/capsules", data=pack(folder),
                                  headers={"Content-Type": "application/x-tar"})
        return bool(doc["new"])

    def list(self) -> list[dict]:
        return self.client.request("GET", "api/capsules")["analyses"]

    def leaderboard(self) -> list[dict]:
        return self.client.request("GET", "api/capsules/leaderboard")["analyses"]

    def affected_by(self, dataset_id: str, version: str, sha256: str | None = None) -> list[dict]:
        return self.affected_by_versions([{"id": dataset_id, "version": version, "sha256": sha256}])

    def affected_by_versions(self, versions: list[dict]) -> list[dict]:
        return self.client.request("POST", "api/capsules/affected", {"versions": versions})["affected"]

    def datacite(self, capsule_id: str, *, publisher: str | None = None) -> dict:
        return self.client.request("GET", f"api/capsules/{self._checked(capsule_id)}/datacite")

    def lineage(self, capsule_id: str) -> list[str]:
        return self.show(capsule_id)["lineage"]

    def check_notebook(self, path: Path, *, keyring) -> dict:
        """As :meth:`~.store.CapsuleStore.check_notebook`; a copy is matched at the service by its run and sha256."""
        run_id, checked = notebook_in_capsule(path, keyring=keyring)
        return checked or self.client.request("POST", "api/capsules/check",
                                              {"run_id": run_id, "sha256": sha256_file(Path(path))})


__all__ = ["HubCapsuleStore"]
