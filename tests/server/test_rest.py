"""The server extension through a real jupyter_server: REST, errors, auth, SIA2 via pyvo, proxies."""

import asyncio
import io
import json

import numpy as np
import pytest
import requests
from astropy.io import fits
from tornado.httpclient import AsyncHTTPClient, HTTPClientError


@pytest.fixture
def jp_server_config(tmp_path, demo_registry, data_server, sample_data):
    demo_registry.add_source("vo", "sia2", f"{data_server.url}/sia2")
    hips = sample_data["vlass"].parent / "hips"
    (hips / "Norder3" / "Dir0").mkdir(parents=True, exist_ok=True)
    (hips / "properties").write_text("creator_did = ivo://jupyter-vlass/test\nhips_order = 3\n")
    demo_registry.add_source("hipsy", "vlass", str(sample_data["vlass"]),
                             options={"hips": f"{data_server.url}/hips"})
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_vlass": True}},
        "VlassApp": {"db_url": demo_registry.engine.url.render_as_string(hide_password=False),
                     "cache_dir": str(tmp_path / "cache"), "deadline": 2.0},
    }


async def fetch_json(jp_fetch, *parts, **kwargs):
    response = await jp_fetch("vlass", *parts, **kwargs)
    return response.code, json.loads(response.body)


async def expect_error(jp_fetch, *parts, status, **kwargs):
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("vlass", *parts, **kwargs)
    assert info.value.code == status
    body = json.loads(info.value.response.body)
    assert body["message"] and body["reason"]
    return body


async def test_search_endpoint(jp_fetch):
    code, doc = await fetch_json(jp_fetch, "api", "datasets", params={"region": "209.25,-18.0,0.5"})
    assert code == 200
    assert {s["name"]: s["status"] for s in doc["sources"]} == {
        "curated": "ok", "hipsy": "ok", "tacc": "ok", "vlass": "ok", "vo": "ok"}
    top = doc["datasets"][0]
    assert set(top["score_parts"]) == {"coverage", "speed", "recency"}
    assert top["sha256"] and top["citation"].endswith(f"sha256:{top['sha256']})")
    scores = [d["score"] for d in doc["datasets"]]
    assert scores == sorted(scores, reverse=True)
    code, only = await fetch_json(jp_fetch, "api", "datasets",
                                  params={"region": "209.25,-18.0,0.5", "sources": "curated"})
    assert {d["source"] for d in only["datasets"]} == {"curated"}


@pytest.mark.parametrize("params, reason", [
    ({"region": "400,0,1"}, "invalid_region"),
    ({"region": "10,-95,1"}, "invalid_region"),
    ({"region": "10,0,0"}, "invalid_region"),
    ({"region": "nan,0,1"}, "invalid_region"),
    ({"region": "abc"}, "invalid_region"),
    ({}, "invalid_argument"),
    ({"region": "10,0,1", "deadline": "soon"}, "invalid_argument"),
    ({"region": "10,0,1", "limit": "-1"}, "invalid_argument"),
    ({"region": "10,0,1", "frame": "b1950"}, "invalid_region"),
    ({"region": "10,95,1", "frame": "galactic"}, "invalid_region"),
])
async def test_bad_search_input_is_a_400_json(jp_fetch, params, reason):
    body = await expect_error(jp_fetch, "api", "datasets", params=params, status=400)
    assert body["reason"] == reason


async def test_unknown_source_and_dataset_are_404(jp_fetch):
    body = await expect_error(jp_fetch, "api", "datasets", params={"region": "1,1,1", "sources": "nope"}, status=404)
    assert body["reason"] == "unknown_source"
    await expect_error(jp_fetch, "api", "datasets", "vlass:nothing-here", status=404)


async def test_search_in_another_frame_is_the_same_search_in_icrs(jp_fetch):
    from astropy.coordinates import SkyCoord

    icrs = SkyCoord(209.25, -18.0, unit="deg")
    gal = icrs.galactic
    _, direct = await fetch_json(jp_fetch, "api", "datasets", params={"region": "209.25,-18.0,0.5"})
    _, galactic = await fetch_json(jp_fetch, "api", "datasets", params={
        "region": f"{gal.l.deg:.9f},{gal.b.deg:.9f},0.5", "frame": "galactic"})
    assert galactic["region"]["ra"] == pytest.approx(209.25, abs=1e-6)
    assert [d["id"] for d in galactic["datasets"]] == [d["id"] for d in direct["datasets"]] != []


async def test_code_to_open_a_dataset_pins_and_cites_it(jp_fetch):
    _, doc = await fetch_json(jp_fetch, "api", "datasets", "vlass:VLASS2.2.ql.T08t20.J135700-180000", "code",
                              params={"version": "v1"})
    assert doc["version"] == "v1" and "sha256:" in doc["citation"]
    assert "version='v1'" in doc["code"] and doc["citation"] in doc["code"]
    body = await expect_error(jp_fetch, "api", "datasets", "vlass:VLASS2.2.ql.T08t20.J135700-180000", "code",
                              params={"version": "v9"}, status=404)
    assert body["reason"] == "unknown_dataset"


async def test_dataset_details_with_versions_and_lineage(jp_fetch):
    code, doc = await fetch_json(jp_fetch, "api", "datasets", "curated:racs-1357-18-components")
    assert [v["version"] for v in doc["versions"]] == ["1.1.0", "1.0.0"]
    assert doc["versions"][0]["derived_from_resolved"][0]["id"] == "vlass:VLASS2.2.ql.T08t20.J135700-180000"


async def test_sources_add_bad_input_writes_nothing(jp_fetch):
    _, before = await fetch_json(jp_fetch, "api", "sources")
    body = await expect_error(jp_fetch, "api", "sources", method="POST",
                              body=json.dumps({"name": "x", "kind": "vlass", "uri": "/no/such/dir"}), status=400)
    assert body["reason"] == "invalid_source"
    await expect_error(jp_fetch, "api", "sources", method="POST", body="not json", status=400)
    _, after = await fetch_json(jp_fetch, "api", "sources")
    assert after == before


async def test_every_route_needs_authentication(jp_fetch, jp_base_url, jp_http_port):
    client = AsyncHTTPClient()
    for path in ("vlass/api/datasets?region=1,1,1", "vlass/api/sources", "vlass/api/datasets/x", "vlass/api/datasets/x/code",
                 "vlass/sia2/query?POS=CIRCLE+1+1+1", "vlass/sia2/capabilities",
                 "vlass/hips/hipsy/properties", "vlass/api/cutout?id=x&region=1,1,1"):
        with pytest.raises(HTTPClientError) as info:
            await client.fetch(f"http://localhost:{jp_http_port}{jp_base_url}{path}")
        assert info.value.code == 403, path


async def test_sia2_endpoint_queried_by_pyvo(jp_fetch, jp_base_url, jp_http_port, jp_serverapp):
    from pyvo.dal.sia2 import SIA2Service

    session = requests.Session()
    session.headers["Authorization"] = f"token {jp_serverapp.identity_provider.token}"
    base = f"http://localhost:{jp_http_port}{jp_base_url}vlass/sia2"

    def query():
        service = SIA2Service(base, session=session)  # resolved through VOSI capabilities
        return service.search(pos=(209.25, -18.0, 0.5), collection="vlass").to_table()

    table = await asyncio.to_thread(query)
    assert len(table) == 2
    assert {"obs_publisher_did", "access_url", "s_region", "em_min", "version", "sha256"} <= set(table.colnames)
    assert set(table["version"]) == {"v1", "v2"}
    freq = (3e8 / np.asarray(table["em_min"]))  # 3 GHz VLASS-like band
    assert np.all((freq > 3e9) & (freq < 4.1e9))

    def bad():
        return session.get(f"{base}/query", params={"POS": "BOX 1 2 3 4"})

    response = await asyncio.to_thread(bad)
    assert response.status_code == 400 and b'value="ERROR"' in response.content


async def test_sia2_ranges_polygons_and_maxrec_through_pyvo(jp_fetch, jp_base_url, jp_http_port, jp_serverapp):
    """``POS=RANGE`` and ``POS=POLYGON`` find what the cone finds; MAXREC cuts the ranked result and says
    OVERFLOW (pyvo warns); a malformed shape is a VOTable with ``QUERY_STATUS=ERROR``."""
    import warnings

    from pyvo.dal.sia2 import SIA2Service

    session = requests.Session()
    session.headers["Authorization"] = f"token {jp_serverapp.identity_provider.token}"
    base = f"http://localhost:{jp_http_port}{jp_base_url}vlass/sia2"

    def query(pos, **kw):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = SIA2Service(base, session=session).search(pos=pos, collection="vlass", **kw)
        return result, [str(w.message) for w in caught]

    ranged, _ = await asyncio.to_thread(query, (209.0, 209.5, -18.3, -17.8))
    polygon, _ = await asyncio.to_thread(query, (209.0, -18.6, 210.2, -18.6, 209.6, -17.6))
    cone, _ = await asyncio.to_thread(query, (209.25, -18.0, 0.5))
    expected = set(cone.to_table()["obs_publisher_did"])
    assert len(expected) == 2 and set(ranged.to_table()["obs_publisher_did"]) == expected
    assert set(polygon.to_table()["obs_publisher_did"]) == expected
    assert ranged.status[0] == "OK" and polygon.status[0] == "OK"

    cut, said = await asyncio.to_thread(query, (209.25, -18.0, 0.5), maxrec=1)
    assert len(cut) == 1 and cut.status[0] == "OVERFLOW", (cut.status, said)
    assert list(cut.to_table()["obs_publisher_did"]) == list(cone.to_table()["obs_publisher_did"][:1])
    whole, _ = await asyncio.to_thread(query, (209.25, -18.0, 0.5), maxrec=2)
    assert len(whole) == 2 and whole.status[0] == "OK"

    for pos in ("POLYGON 1 2 3 4", "POLYGON 0 0 120 0 240 0", "RANGE 10 20 5 1", "RANGE 1 2 3", "CIRCLE 1 2"):
        response = await asyncio.to_thread(session.get, f"{base}/query", params={"POS": pos})
        assert response.status_code == 400 and b'value="ERROR"' in response.content, pos


async def test_fits_cutout(jp_fetch):
    response = await jp_fetch("vlass", "api", "cutout", params={
        "id": "vlass:VLASS2.2.ql.T08t20.J135700-180000", "version": "v1", "region": "209.25,-18.0,0.01"})
    with fits.open(io.BytesIO(response.body)) as hdul:
        assert all(71 <= n <= 73 for n in hdul[0].data.shape)  # 2 x 36" at 1"/px
        assert hdul[0].header["CTYPE1"].startswith("RA---")
    await expect_error(jp_fetch, "api", "cutout", params={
        "id": "vlass:VLASS2.2.ql.T08t20.J135700-180000", "region": "10,10,0.01"}, status=400)


async def test_hips_proxy_caches_tiles(jp_fetch, data_server, tmp_path):
    first = await jp_fetch("vlass", "hips", "hipsy", "properties")
    assert b"hips_order" in first.body
    hits = [r for r in data_server.handler.requests if r[1] == "/hips/properties"]
    await jp_fetch("vlass", "hips", "hipsy", "properties")
    assert [r for r in data_server.handler.requests if r[1] == "/hips/properties"] == hits  # served from cache
    await expect_error(jp_fetch, "hips", "vlass", "properties", status=404)  # no HiPS configured


async def test_multi_site_consensus_of_a_dataset(jp_fetch, demo_registry, sample_data):
    """The newest consensus of a dataset with its votes and the gate's decision; 404 before there is one."""
    from jupyter_vlass.models.classical import ClassicalDetector
    from jupyter_vlass.models.consensus import Run, aggregate
    from jupyter_vlass.models.images import open_image
    from jupyter_vlass.review.review import Review

    tile_id = "vlass:VLASS2.2.ql.T08t20.J135700-180000"
    body = await expect_error(jp_fetch, "api", "datasets", tile_id, "multi-site-consensus", status=404)
    assert body["reason"] == "unknown_consensus"
    table = ClassicalDetector().detect(open_image(sample_data["tile_v1"]))
    runs = [Run("classical", "1.0.0", "local", table), Run("classical", "1.0.0", "slurm", table)]
    review = Review(demo_registry.Session)
    result = review.record(dataset_id=tile_id, version="v1", user="alice", consensus=aggregate(runs, radius_deg=2.5 / 3600))
    review.vote(result_id=result["id"], detection=0, user="bob", verdict="confirmed")
    code, doc = await fetch_json(jp_fetch, "api", "datasets", tile_id, "multi-site-consensus")
    assert code == 200 and doc["id"] == result["id"] and doc["detections"][0]["votes"]["confirmed"] == 1
    assert doc["summary"]["site_discrepancy"]["classical"]["fraction"] == 0.0 and doc["gate"]["passed"], doc["gate"]
    await expect_error(jp_fetch, "api", "datasets", tile_id, "multi-site-consensus", params={"version": "v9"}, status=404)


def _sia2(jp_base_url, jp_http_port, jp_serverapp):
    session = requests.Session()
    session.headers["Authorization"] = f"token {jp_serverapp.identity_provider.token}"
    return session, f"http://localhost:{jp_http_port}{jp_base_url}vlass/sia2/query"


def _truth(pixels, shape: str, numbers: list[float]) -> bool:
    """Brute force over an image's pixel centres (astropy): some centre inside the shape."""
    from matplotlib.path import Path as PlanePath

    from tests.federation.test_bruteforce import _tangent

    ra, dec = pixels.ra.deg, pixels.dec.deg
    if shape == "RANGE":
        ra0, ra1, dec0, dec1 = numbers
        in_ra = (ra >= ra0) & (ra <= ra1) if ra0 <= ra1 else (ra >= ra0) | (ra <= ra1)
        return bool((in_ra & (dec >= dec0) & (dec <= dec1)).any())
    from astropy.coordinates import SkyCoord

    vertices = SkyCoord(numbers[0::2], numbers[1::2], unit="deg")
    centre = SkyCoord(np.mean(numbers[0::2]), np.mean(numbers[1::2]), unit="deg")
    return bool(PlanePath(_tangent(vertices, centre)).contains_points(_tangent(pixels, centre)).any())


SHAPES = [  # each includes some of the sample VLASS collection's images and excludes others
    "RANGE 140 150 -Inf +Inf",            # open Dec ends: the RACS images, not the tile at RA 209
    "RANGE 350 150 -10 0",                # through RA 0 (350 -> 360 -> 150): the RACS images only
    "RANGE 200 220 -Inf -17.9",           # the tile's southern part, no RACS image
    "POLYGON 149.2 -7.22 149.3 -7.22 149.3 -7.14 149.2 -7.14",  # around the RACS images
    "POLYGON 209.0 -18.6 210.2 -18.6 209.6 -17.6",              # inside the tile
]


@pytest.mark.parametrize("pos", SHAPES)
async def test_sia2_shapes_include_and_exclude_as_the_brute_force_says(jp_fetch, jp_base_url, jp_http_port,
                                                                       jp_serverapp, sample_data, pos):
    from astropy.io.votable import parse_single_table

    from tests.federation.test_bruteforce import _pixel_centres

    session, url = _sia2(jp_base_url, jp_http_port, jp_serverapp)
    response = await asyncio.to_thread(session.get, url, params={"POS": pos, "COLLECTION": "vlass"})
    assert response.status_code == 200, response.text[:500]
    found = {str(u) for u in parse_single_table(io.BytesIO(response.content)).to_table()["access_url"]}
    words = pos.split()
    numbers = [float(w.replace("+Inf", "inf").replace("-Inf", "-inf")) for w in words[1:]]
    images = sorted(p for p in sample_data["vlass"].rglob("*.fits"))
    expected = {str(p) for p in images
                if _truth(_pixel_centres(p, 8 if "T08t20" in str(p) else 1), words[0], numbers)}
    assert expected and expected != {str(p) for p in images}, "the shape includes some images and not others"
    assert found == expected, pos


async def test_sia2_maxrec_over_several_pos_keeps_the_best_ranked(jp_fetch, jp_base_url, jp_http_port,
                                                                  jp_serverapp, demo_registry):
    """With two POS, MAXREC keeps the best-ranked records of both together, not the first POS's records."""
    from astropy.io.votable import parse_single_table

    from jupyter_vlass.federation import Region

    weak, strong = "CIRCLE 149.25 -7.185 0.3", "CIRCLE 209.25 -18.0 0.3"  # RACS images, small in the cone; the tile

    def top(pos: str):
        hit = demo_registry.search(Region.from_degrees(*map(float, pos.split()[1:])), sources=["vlass"]).hits[0]
        return hit.score, f"ivo://jupyter-vlass/registry?{hit.dataset_id}@{hit.version}"

    (weak_score, weak_top), (strong_score, best) = top(weak), top(strong)
    assert weak_score < strong_score and weak_top != best  # what makes the order of the POS matter
    session, url = _sia2(jp_base_url, jp_http_port, jp_serverapp)
    response = await asyncio.to_thread(session.get, url, params=[("POS", weak), ("POS", strong),
                                                                 ("COLLECTION", "vlass"), ("MAXREC", "1")])
    table = parse_single_table(io.BytesIO(response.content)).to_table()
    assert list(table["obs_publisher_did"]) == [best]
    assert b'value="OVERFLOW"' in response.content


async def test_sia2_an_unknown_collection_is_an_empty_result(jp_fetch, jp_base_url, jp_http_port, jp_serverapp):
    from astropy.io.votable import parse_single_table

    session, url = _sia2(jp_base_url, jp_http_port, jp_serverapp)
    response = await asyncio.to_thread(session.get, url, params={"POS": "CIRCLE 209.25 -18.0 0.5",
                                                                 "COLLECTION": "no-such-collection"})
    assert response.status_code == 200, response.text[:300]
    assert len(parse_single_table(io.BytesIO(response.content)).to_table()) == 0
    assert b'name="QUERY_STATUS" value="OK"' in response.content
    both = await asyncio.to_thread(session.get, url, params=[("POS", "CIRCLE 209.25 -18.0 0.5"),
                                                             ("COLLECTION", "no-such-collection"),
                                                             ("COLLECTION", "vlass")])
    assert len(parse_single_table(io.BytesIO(both.content)).to_table()) == 2  # the known one still answers
