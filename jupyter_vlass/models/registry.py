"""Detection models: found through the entry point group ``jupyter_vlass.models``, each version pinned by
its source repository, commit and weights sha256.

A model class has ``name`` and ``version``, ``weights()`` (the bytes that determine its output: a
network's state, a classical detector's parameters as canonical JSON), ``from_weights(data)`` and
``detect(image)``. :func:`resolve` fetches a pinned version's weights from a git repository (a bare
repository path or URL; ``git`` through the one subprocess seam) and refuses bytes whose sha256 is not the
pinned one.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from ..compute.runner import run_sync
from ..exceptions import CorruptData, InvalidArgument, NotFound

GROUP = "jupyter_vlass.models"
COMMIT = re.compile(r"^[0-9a-f]{7,40}$")
SAFE_PATH = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_./-]{0,200}$")


class UnknownModel(NotFound):
    reason = "unknown_model"


class WeightsMismatch(CorruptData):
    reason = "weights_mismatch"


@dataclass(frozen=True)
class ModelPin:
    """One model version as an analysis pins it."""

    name: str
    version: str
    repository: str
    commit: str
    weights_path: str
    weights_sha256: str

    def to_json(self) -> dict:
        return {"name": self.name, "version": self.version, "repository": self.repository, "commit": self.commit,
                "weights_path": self.weights_path, "weights_sha256": self.weights_sha256}

    @classmethod
    def from_json(cls, doc: dict) -> ModelPin:
        try:
            pin = cls(**{k: str(doc[k]) for k in ("name", "version", "repository", "commit", "weights_path",
                                                   "weights_sha256")})
        except (KeyError, TypeError):
            raise InvalidArgument("model: name, version, repository, commit, weights_path, weights_sha256") from None
        if not COMMIT.match(pin.commit) or not SAFE_PATH.match(pin.weights_path) or ".." in pin.weights_path:
            raise InvalidArgument("model: commit is a hex commit id, weights_path a plain path in the repository")
        if not re.fullmatch(r"[0-9a-f]{64}", pin.weights_sha256):
            raise InvalidArgument("model: weights_sha256 is 64 hex digits")
        return pin


def available() -> dict[str, object]:
    """Model name -> its entry point (not loaded)."""
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=GROUP)}


def model_class(name: str):
    found = available().get(name)
    if found is None:
        raise UnknownModel(f"no model {name!r} (installed: {', '.join(sorted(available())) or 'none'})")
    return found.load()


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def resolve(pin: ModelPin) -> bytes:
    """The pinned weights, read from ``pin.repository`` at ``pin.commit``; WeightsMismatch when their sha256
    is not the pinned one, UnknownModel when the repository or commit does not have them."""

    if pin.repository.startswith("-"):
        raise InvalidArgument("model: repository must be a path or URL")
    git = ["git", "-c", "safe.directory=*", "--git-dir", pin.repository]
    done = run_sync(git + ["cat-file", "blob", f"{pin.commit}:{pin.weights_path}"], timeout=120, text=False)
    if done.returncode != 0:
        raise UnknownModel(f"{pin.repository} has no {pin.weights_path} at {pin.commit[:12]}: "
                           f"{done.stderr.decode(errors='replace').strip()[:200]}")
    data = done.stdout
    if sha256_of(data) != pin.weights_sha256:
        raise WeightsMismatch(f"{pin.name} {pin.version}: the weights at {pin.commit[:12]} have sha256 "
                              f"{sha256_of(data)[:16]}..., not the pinned {pin.weights_sha256[:16]}...")
    return data


def load(pin: ModelPin):
    """The model of ``pin`` with its verified weights."""
    cls = model_class(pin.name)
    return cls.from_weights(resolve(pin))
