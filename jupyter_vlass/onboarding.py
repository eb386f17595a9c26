"""A user's first start on a hub: the example notebooks in their home and the sample sources in their registry.

The examples are merged the way nbgitpuller merges a repository into a home: a file the user never had, or
deleted, is copied; a file the user has not changed since it was copied is updated to the shipped one; a
file the user edited is left as it is. What was copied is remembered (its sha256) in the user's data
directory. The server runs as its user, so everything here is done with the user's own rights.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .sample_data import sample_layout, seed_registry
from .store.location import data_dir

STATE_FILE = "onboarding.json"


@dataclass
class Merged:
    """What :func:`merge_examples` did, by file name (relative to the target folder)."""

    copied: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # edited by the user: left alone


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _state(state_dir: Path) -> dict:
    try:
        return json.loads((state_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}


def _save_state(state_dir: Path, state: dict) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=state_dir, delete=False, prefix=".onboarding-") as fh:
        json.dump(state, fh, indent=1, sort_keys=True)
    os.replace(fh.name, state_dir / STATE_FILE)


def _install(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` through a new file renamed over it (a link at ``target`` is replaced,
    never written through)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("wb", dir=target.parent, delete=False, prefix=f".{target.name}.") as fh:
        fh.write(source.read_bytes())
    os.replace(fh.name, target)


def merge_examples(source: Path, target: Path, *, state_dir: Path | None = None) -> Merged:
    """Merge the shipped notebooks in ``source`` (top level, ``*.ipynb``) into ``target``, never overwriting
    a user's edits."""
    state_dir = state_dir or data_dir()
    state = _state(state_dir)
    copies: dict[str, str] = state.setdefault("examples", {})
    merged = Merged()
    for shipped in sorted(Path(source).glob("*.ipynb")):
        name, dest = shipped.name, Path(target) / shipped.name
        new = _sha256(shipped)
        if not dest.exists() and not dest.is_symlink():
            _install(shipped, dest)
            merged.copied.append(name)
        elif dest.is_file() and not dest.is_symlink() and _sha256(dest) == copies.get(name):
            if new != copies[name]:
                _install(shipped, dest)
                merged.updated.append(name)
        else:
            merged.kept.append(name)
            continue
        copies[name] = new
    _save_state(state_dir, state)
    return merged


def seed_sample(registry, sample: Path, *, state_dir: Path | None = None) -> list:
    """Register and sync the sample sources in ``sample`` (a ``jupyter-vlass demo-data`` folder) into a
    registry that has no sources yet, once: a user who later removes them is not given them again.
    Returns the sync reports (none when nothing was done)."""
    state_dir = state_dir or data_dir()
    state = _state(state_dir)
    if state.get("sample_seeded") or registry.sources():
        return []
    reports = seed_registry(registry, sample_layout(Path(sample)))
    state["sample_seeded"] = True
    _save_state(state_dir, state)
    return reports
