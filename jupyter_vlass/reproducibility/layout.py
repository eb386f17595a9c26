"""A capsule's files, and the signed list of them::

    <capsule id>/notebook.ipynb          the executed notebook (the crate embedded in its metadata, the
                                         dataset versions cited in a first cell)
    <capsule id>/outputs/...             the job's results
    <capsule id>/source.ipynb            the notebook as submitted (what a replay runs)
    <capsule id>/job-manifest.json       the job's manifest (pins, parameters, site, resources)
    <capsule id>/ro-crate-metadata.json  RO-Crate 1.1, Workflow Run Crate profile
    <capsule id>/capsule.sig             a Sigstore bundle (OpenSSF Model Signing): a DSSE-wrapped in-toto
                                         statement over every other file's sha256

The capsule id is the sha256 of the signed file list (names and digests). Every file but the root's
``capsule.sig`` is signed, whatever its name (hidden and git-looking names included).
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from ..exceptions import CorruptData
from ..jobs.staging import sha256_file

SIGNATURE, CRATE, NOTEBOOK = "capsule.sig", "ro-crate-metadata.json", "notebook.ipynb"
SOURCE, MANIFEST = "source.ipynb", "job-manifest.json"


class CapsuleChanged(CorruptData):
    reason = "capsule_changed"


def signed_paths(folder: Path) -> list[Path]:
    """Every file of the capsule in ``folder`` that its signature covers (all but ``capsule.sig``), sorted;
    links are listed as they are, never followed."""
    return sorted(p for p in folder.rglob("*") if (p.is_symlink() or p.is_file()) and p != folder / SIGNATURE)


def files_of(folder: Path) -> dict[str, str]:
    """``{name: sha256}`` of the files in ``folder`` that a signature covers (a link is refused)."""
    found = {}
    for path in signed_paths(folder):
        name = path.relative_to(folder).as_posix()
        if path.is_symlink():
            raise CapsuleChanged(f"{name} is a symbolic link: a capsule holds plain files only")
        found[name] = sha256_file(path)
    return found


def read_bundle(signature: Path) -> dict:
    """The signature bundle at ``signature`` (``capsule.sig``) as JSON."""
    try:
        return json.loads(signature.read_text())
    except FileNotFoundError:
        raise CapsuleChanged(f"{SIGNATURE} is missing: the capsule is truncated or was never signed") from None
    except (ValueError, UnicodeDecodeError):
        raise CapsuleChanged(f"{SIGNATURE} is not a signature bundle") from None


def signed_files(bundle: dict) -> dict[str, str]:
    """``{name: sha256}`` that a signature bundle's in-toto statement lists."""
    try:
        payload = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"]))
        return {r["name"]: r["digest"] for r in payload["predicate"]["resources"]}
    except (KeyError, TypeError, ValueError):
        raise CapsuleChanged(f"{SIGNATURE} is not a Model Signing bundle") from None


def signing_key_id(bundle: dict) -> str:
    """The id of the key a bundle says it was signed with (its public key's hint)."""
    try:
        hint = bundle["verificationMaterial"]["publicKey"]["hint"]
    except (KeyError, TypeError):
        raise CapsuleChanged(f"{SIGNATURE} is not a Model Signing bundle") from None
    if not isinstance(hint, str):
        raise CapsuleChanged(f"{SIGNATURE} names no key")
    return hint


def capsule_id_of(files: dict[str, str]) -> str:
    """A capsule's id: the sha256 of its signed file list (names and digests)."""
    return hashlib.sha256(json.dumps(sorted(files.items())).encode()).hexdigest()
