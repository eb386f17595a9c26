"""Fixtures of the model tests: the real files that ship in packages, a full-size tile with a known truth."""

from __future__ import annotations

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
    """A 3722² tile (the VLASS Quick Look size) with its truth."""
    image, header, truth, _ = make_tile(real["racs_components"], ra=209.25, dec=-18.0, pixels=3722, seed=7)
    path = tmp_path_factory.mktemp("tile") / "tile.fits"
    write_tile(path, image, header)
    return path, truth
