"""Where two models agree and conflict on the sample's full tile, as MOCs registered back into the registry:
region-searchable derived dataset versions with lineage to the image they were measured on."""

from __future__ import annotations

import astropy.units as u
import pytest
from astropy.coordinates import SkyCoord

from jupyter_vlass.federation import Region
from jupyter_vlass.federation.sources._io import local_path
from jupyter_vlass.models.classical import ClassicalDetector
from jupyter_vlass.models.consensus import Run, aggregate
from jupyter_vlass.models.images import open_image
from jupyter_vlass.models.regions import register
from tests.models.conftest import BEAM_DEG

pytestmark = pytest.mark.timeout(300)
TILE = "vlass:VLASS2.2.ql.T08t20.J135700-180000"


def test_agree_and_conflict_regions_are_searchable_derived_datasets(demo_registry, tmp_path):
    from jupyter_vlass.exceptions import InvalidArgument

    tile = demo_registry.get(TILE, "v1")
    image = open_image(local_path(tile.uri))
    consensus = aggregate([Run("classical", "1.0.0", "local", ClassicalDetector().detect(image)),
                           Run("classical-7sigma", "1.0.0", "local", ClassicalDetector(threshold=7.0).detect(image))],
                          radius_deg=BEAM_DEG)
    records = register(consensus, demo_registry, folder=tmp_path / "regions", analysis="tile-v1-classical",
                       image=tile, version="1", radius_deg=3 * BEAM_DEG)
    assert [r.dataset_id for r in records] == ["consensus:tile-v1-classical/1/agree.moc.fits",
                                               "consensus:tile-v1-classical/1/conflict.moc.fits"]
    agree, conflict = records
    assert "classical 1.0.0 at local" in agree.title and agree.derived_from == (f"{tile.uri}@{tile.version}",)

    # A cone on a high-confidence detection finds the agree region; lineage leads back to the tile.
    solid = consensus.table[consensus.table["high_confidence"]][0]
    found = demo_registry.search(Region.cone(SkyCoord(solid["ra"] * u.deg, solid["dec"] * u.deg), 2 * u.arcsec))
    assert agree.dataset_id in {h.dataset_id for h in found}
    lineage = demo_registry.describe(agree.dataset_id)["versions"][0]["derived_from_resolved"]
    assert lineage == [{"pin": f"{tile.uri}@{tile.version}", "id": TILE, "version": "v1"}]
    derivatives = {d for v in demo_registry.describe(TILE)["versions"] for d in v["derivatives"]}
    assert {f"{agree.dataset_id}@1", f"{conflict.dataset_id}@1"} <= derivatives
    # Far from every detection, neither region is found.
    far = demo_registry.search(Region.cone(SkyCoord(0 * u.deg, 60 * u.deg), 1 * u.arcmin))
    assert not {h.dataset_id for h in far} & {agree.dataset_id, conflict.dataset_id}
    with pytest.raises(InvalidArgument):
        register(consensus, demo_registry, folder=tmp_path / "regions", analysis="../x", image=tile, version="1",
                 radius_deg=BEAM_DEG)
