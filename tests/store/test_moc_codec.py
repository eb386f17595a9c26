"""The stored MOC format (store/moc_codec.py): every MOC comes back cell for cell, one at a time or many at once,
at every depth from 0 to 29, with empty blobs among them; it is much smaller than the depth-29 pairs it
replaced."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.coordinates import Latitude, Longitude
from astropy.io import fits
from astropy.table import Table
from mocpy import MOC

from jupyter_vlass.federation.footprints import image_metadata
from jupyter_vlass.sample_data import fetch_real_files
from jupyter_vlass.store import moc_codec
from tests.services import SAMPLE_CACHE


def _real_footprints() -> list[MOC]:
    """Footprints of the real FIRST cutout and RACS image (their WCS), and cones of the real ObsCore rows."""
    real = fetch_real_files(SAMPLE_CACHE)
    mocs = [image_metadata(fits.getheader(real[name])).footprint.moc for name in ("first_image", "racs_image_0")]
    obscore = Table.read(real["obscore_votable"])
    mocs += MOC.from_cones(Longitude(obscore["s_ra"].quantity), Latitude(obscore["s_dec"].quantity),
                           radius=obscore["s_fov"].quantity / 2, max_depth=9)
    return mocs


def test_real_footprints_round_trip_one_by_one_and_all_at_once():
    mocs = _real_footprints()
    for moc in mocs:
        depth = int(moc.max_order)
        blob = moc_codec.encode(moc.to_depth29_ranges, depth)
        assert np.array_equal(moc_codec.decode(blob, depth), moc.to_depth29_ranges)
        assert 3 * len(blob) < moc.to_depth29_ranges.nbytes  # release 0.1.0 stored the uint64 pairs
    cones = mocs[2:]
    blobs = moc_codec.encode_many([m.to_depth29_ranges for m in cones], 9)
    flat, counts = moc_codec.decode_many(blobs[:3] + [b""] + blobs[3:], 9)
    assert counts.tolist() == [len(m.to_depth29_ranges) for m in cones[:3]] + [0] + \
        [len(m.to_depth29_ranges) for m in cones[3:]]
    assert np.array_equal(flat, np.concatenate([m.to_depth29_ranges for m in cones]))


@pytest.mark.parametrize("depth", [0, 1, 7, 14, 20, 29])
def test_every_depth_including_the_whole_sky_and_the_last_cell(depth):
    shift = np.uint64(2 * (29 - depth))
    last = np.uint64(12 * 4**depth)
    whole_sky = np.array([[0, last]], np.uint64) << shift
    edges = np.array([[0, 1], [last - np.uint64(1), last]], np.uint64) << shift if depth else whole_sky
    for ranges in (whole_sky, edges):
        assert np.array_equal(moc_codec.decode(moc_codec.encode(ranges, depth), depth), ranges)
    assert moc_codec.decode_many([], depth)[1].tolist() == []
    assert moc_codec.encode_many([], depth) == []
