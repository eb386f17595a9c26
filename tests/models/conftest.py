"""Fixtures of the model tests: the real files that ship in packages, a full-size tile with a known truth."""

from __future__ import annotations

import numpy as np
import pytest

from jupyter_vlass.models.synthetic import make_tile, write_tile

BEAM_DEG = 2.5 / 3600


@pytest.fixture(scope="session")
def real():
    """The real files that ship in packages (the RACS component catalogue and images, the FIRST cutout)."""
    from jupyter_vlass.sample_data import fetch_real_files
    from tests.services import SAMPLE_CACHE

    return fetch_real_files(SAMPLE_CACHE)


@pytest.fixture(scope="session")
def full_tile(real, tmp_path_factory):
    """A 3722² tile (the VLASS Quick Look size) with its truth; its per-pixel truth is :func:`truth_mask`'s."""
    image, header, truth, mask = make_tile(real["racs_components"], ra=209.25, dec=-18.0, pixels=3722, seed=7)
    path = tmp_path_factory.mktemp("tile") / "tile.fits"
    write_tile(path, image, header)
    np.save(path.with_suffix(".mask.npy"), mask)
    return path, truth


def truth_mask(path) -> np.ndarray:
    """The per-pixel truth (0 background, 1 source, 2 artefact) of the tile at ``path``."""
    return np.load(path.with_suffix(".mask.npy"))


def pixel_recall(classes, mask: np.ndarray, kind: int) -> float:
    """The share of the truth's ``kind`` pixels that a class map calls ``kind``."""
    called = np.asarray(getattr(classes, "data", classes))
    return float(((called == kind) & (mask == kind)).sum() / max(1, (mask == kind).sum()))
