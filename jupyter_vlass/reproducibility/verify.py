"""Checking a capsule: its files against the signed list, the signature against the site's public keys,
and, when something differs, what changed (files, and fields of the crate)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from ..exceptions import InvalidArgument
from .layout import (CRATE, NOTEBOOK, SIGNATURE, CapsuleChanged, capsule_id_of, files_of, read_bundle,
                     signed_files, signed_paths, signing_key_id)


def verify(path: str | Path, *, keyring) -> dict:
    """Check a capsule against the site's public keys (``keyring``: a
    :class:`~jupyter_vlass.reproducibility.keys.Keyring` or the hub's
    :class:`~jupyter_vlass.reproducibility.signing.HubKeys`; old keys included); raise
    :class:`~.layout.CapsuleChanged` naming what changed."""
    from cryptography.exceptions import InvalidSignature  # the capsules extra, with model_signing
    from model_signing import verifying

    path = Path(path)
    if not path.is_dir():
        raise InvalidArgument(f"{path} is not a capsule directory")
    bundle = read_bundle(path / SIGNATURE)
    key_id, signed = signing_key_id(bundle), signed_files(bundle)
    _same_files(path, signed)
    key = keyring.public_key(key_id)  # UnknownKey when the site never had it
    with tempfile.TemporaryDirectory() as folder:
        public = Path(folder) / "public.pem"
        public.write_text(key.pem)
        try:  # the signature, then every file against it: one pass over the bytes when all is well
            verifying.Config().use_elliptic_key_verifier(public_key=public).verify(path, path / SIGNATURE)
        except (ValueError, OSError, InvalidSignature) as error:  # a signature by another key: InvalidSignature
            _explain(path, signed)  # names what changed, when a file did
            raise CapsuleChanged(f"the signature does not verify with the key {key_id[:16]} it names: "
                                 f"{type(error).__name__}: {str(error)[:200]}") from None
    return {"capsule_id": capsule_id_of(signed), "key_id": key_id, "files": len(signed), "verified": True}


def _same_files(path: Path, signed: dict[str, str]) -> None:
    """Refuse a capsule whose files are not the signed ones by name: missing, added, renamed or linked."""
    present = {p.relative_to(path).as_posix(): p for p in signed_paths(path)}
    missing = sorted(set(signed) - set(present))
    if missing:
        raise CapsuleChanged(f"the capsule is truncated: {', '.join(missing)} missing")
    added = sorted(set(present) - set(signed))
    if added:
        raise CapsuleChanged(f"files were added after signing: {', '.join(added)}")
    links = sorted(name for name, p in present.items() if p.is_symlink())
    if links:
        raise CapsuleChanged(f"{', '.join(links)}: symbolic links where the signed capsule has files")


def _explain(path: Path, signed: dict[str, str]) -> None:
    """Raise :class:`CapsuleChanged` naming the files (and crate fields) that differ from the signed list."""
    actual = files_of(path)
    changed = sorted(name for name in signed if signed[name] != actual.get(name))
    if not changed:
        return
    detail = ""
    if CRATE in changed and NOTEBOOK not in changed:  # the notebook carries the signed crate
        try:
            embedded = json.loads((path / NOTEBOOK).read_text())["metadata"]["jupyter_vlass"]["ro-crate"]
            fields = _changed_fields(json.loads((path / CRATE).read_text()), embedded)
            detail = f" (metadata fields: {', '.join(fields[:10]) or 'formatting only'})"
        except (ValueError, UnicodeDecodeError, AttributeError, KeyError, TypeError):
            detail = f" ({CRATE} is no longer JSON)"
    raise CapsuleChanged(f"changed since it was signed: {', '.join(changed)}{detail}")


def _changed_fields(crate_now: dict, crate_signed: dict) -> list[str]:
    """``@graph`` entities whose fields differ, as ``<@id>.<field>``."""
    signed = {e["@id"]: e for e in crate_signed.get("@graph", [])}
    now = {e.get("@id"): e for e in crate_now.get("@graph", []) if isinstance(e, dict)}
    changed = []
    for entity_id in sorted(set(signed) | set(now), key=str):
        a, b = signed.get(entity_id, {}), now.get(entity_id, {})
        changed += [f"{entity_id}.{field}" for field in sorted(set(a) | set(b)) if a.get(field) != b.get(field)]
    return changed
