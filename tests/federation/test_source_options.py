"""A source's options are typed and checked when the source is added: a bad one is refused naming it (REST
400 in tests/server), and what is stored is the typed value (``anon=false`` is false, not the true string)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from astropy.io import fits

from jupyter_vlass.exceptions import CorruptData, InvalidSource
from jupyter_vlass.federation import Region
from jupyter_vlass.federation.cutout import cutout_fits
from jupyter_vlass.sample_data import fetch_real_files
from tests.services import SAMPLE_CACHE


@pytest.mark.parametrize("options, said", [
    ({"rate_limit": "1/s", "burst": "abc"}, "option burst"), ({"burst": 0}, "option burst"),
    ({"anon": "perhaps"}, "option anon"), ({"endpoint_url": "ftp://x"}, "option endpoint_url: must be an http(s) URL"),
    ({"colour": "blue"}, "has no such option"), ({"access_groups": "ok, $(id)"}, "option access_groups"),
])
def test_bad_options_are_refused_by_name_and_nothing_is_added(registry, options, said):
    with pytest.raises(InvalidSource, match=said.replace("(", r"\(").replace(")", r"\)")):
        registry.add_source("tacc", "s3manifest", "s3://bucket/radio/manifest.json", options=options)
    assert registry.sources() == []


def test_options_are_stored_typed(registry):
    registry.add_source("tacc", "s3manifest", "s3://bucket/radio/manifest.json",
                        options={"anon": "false", "endpoint_url": "http://127.0.0.1:8333", "rate_limit": "2/s",
                                 "burst": "4"})
    [stored] = registry.sources()
    assert stored["options"]["anon"] is False and stored["options"]["burst"] == 4.0
    assert registry.source("tacc").describe()["options"]["anon"] is False
    registry.add_source("open", "s3manifest", "s3://bucket/open/manifest.json", options={"anon": "yes"})
    assert registry.source("open").describe()["options"]["anon"] is True


def test_a_cutout_of_an_image_without_sky_axes_is_refused_as_data():
    """The real FIRST cutout's pixels with a header that has no celestial axes (made so here: its header says)."""
    with fits.open(fetch_real_files(SAMPLE_CACHE)["first_image"]) as hdul:
        data = np.asarray(hdul[0].data, dtype=np.float32)
    header = fits.Header({"HISTORY": "jupyter-vlass test: the real FIRST pixels without their sky coordinates"})
    out = io.BytesIO()
    fits.PrimaryHDU(data, header=header).writeto(out)
    out.seek(0)
    with pytest.raises(CorruptData, match="no celestial axes") as refused:
        cutout_fits(out, Region.from_degrees(162.5, 30.7, 0.01))
    assert refused.value.status == 422 and refused.value.reason == "no_sky_axes"
