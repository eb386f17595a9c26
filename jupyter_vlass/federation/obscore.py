"""The registry as IVOA ObsCore: SIA v2 parameters in, an ObsCore VOTable out."""

from __future__ import annotations

import io
import math

import numpy as np
from astropy.io.votable.tree import Info, VOTableFile
from astropy.table import Table

from ..exceptions import InvalidArgument
from .records import DatasetRecord
from .region import Region

PUBLISHER = "ivo://jupyter-vlass/registry"
# The 30 mandatory ObsCore 1.1 columns, then ours.
COLUMNS = [
    ("dataproduct_type", str, None, "meta.id"), ("calib_level", np.int16, None, "meta.code;obs.calib"),
    ("obs_collection", str, None, "meta.id"), ("obs_id", str, None, "meta.id"),
    ("obs_publisher_did", str, None, "meta.ref.uri;meta.curation"), ("access_url", str, None, "meta.ref.url"),
    ("access_format", str, None, "meta.code.mime"), ("access_estsize", np.int64, "kbyte", "phys.size;meta.file"),
    ("target_name", str, None, "meta.id;src"), ("s_ra", float, "deg", "pos.eq.ra"),
    ("s_dec", float, "deg", "pos.eq.dec"), ("s_fov", float, "deg", "phys.angSize;instr.fov"),
    ("s_region", str, None, "pos.outline;obs.field"), ("s_resolution", float, "arcsec", "pos.angResolution"),
    ("s_xel1", np.int64, None, "meta.number"), ("s_xel2", np.int64, None, "meta.number"),
    ("t_min", float, "d", "time.start;obs.exposure"), ("t_max", float, "d", "time.end;obs.exposure"),
    ("t_exptime", float, "s", "time.duration;obs.exposure"), ("t_resolution", float, "s", "time.resolution"),
    ("t_xel", np.int64, None, "meta.number"), ("em_min", float, "m", "em.wl;stat.min"),
    ("em_max", float, "m", "em.wl;stat.max"), ("em_res_power", float, None, "spect.resolution"),
    ("em_xel", np.int64, None, "meta.number"), ("o_ucd", str, None, "meta.ucd"),
    ("pol_states", str, None, "meta.code;phys.polarization"), ("pol_xel", np.int64, None, "meta.number"),
    ("facility_name", str, None, "meta.id;instr.tel"), ("instrument_name", str, None, "meta.id;instr"),
    ("version", str, None, "meta.version"), ("sha256", str, None, "meta.checksum"),
    ("access_tier", str, None, "meta.code"),
]


POS_FORMS = "'CIRCLE ra dec radius', 'RANGE ra1 ra2 dec1 dec2' or 'POLYGON ra1 dec1 ra2 dec2 ra3 dec3 ...'"


def parse_pos(values: list[str]) -> list[Region]:
    """SIA2 ``POS`` values (several are OR-ed): ``CIRCLE``, ``RANGE`` (``-Inf``/``+Inf`` for open ends)
    and ``POLYGON``, in degrees (ICRS)."""
    regions = []
    for value in values:
        words = value.split()
        shape = words[0].upper() if words else ""
        if shape == "CIRCLE" and len(words) == 4:
            regions.append(Region.from_degrees(*words[1:]))
        elif shape == "RANGE" and len(words) == 5:
            regions.append(Region.range(*words[1:]))
        elif shape == "POLYGON" and len(words) >= 7 and len(words) % 2 == 1:
            regions.append(Region.polygon(list(zip(words[1::2], words[2::2]))))
        else:
            raise InvalidArgument(f"POS must be {POS_FORMS} in degrees, got {value[:200]!r}", reason="UsageFault")
    return regions


def parse_band(values: list[str]) -> list[tuple[float, float]]:
    bands = []
    for value in values:
        words = value.split()
        try:
            lo, hi = (float(w) for w in words) if len(words) == 2 else (float(words[0]),) * 2
        except (ValueError, IndexError):
            raise InvalidArgument(f"BAND must be 'min max' wavelengths in metres, got {value!r}", reason="UsageFault") from None
        if math.isnan(lo) or math.isnan(hi) or lo > hi:
            raise InvalidArgument(f"bad BAND interval {value!r}", reason="UsageFault")
        bands.append((lo, hi))
    return bands


def in_band(record: DatasetRecord, bands: list[tuple[float, float]]) -> bool:
    if not bands:
        return True
    if record.em_min is None or record.em_max is None:
        return False
    lo, hi = record.em_min.to_value("m"), record.em_max.to_value("m")
    return any(lo <= b_hi and hi >= b_lo for b_lo, b_hi in bands)


def obscore_row(record: DatasetRecord) -> dict:
    prov = record.provenance
    shape = prov.get("shape") or [None, None]
    ra, dec, fov = float(record.center.ra.deg), float(record.center.dec.deg), float(record.fov.deg)
    return {
        "dataproduct_type": record.dataproduct_type, "calib_level": 2, "obs_collection": record.source,
        "obs_id": record.dataset_id.split(":", 1)[-1], "obs_publisher_did": f"{PUBLISHER}?{record.dataset_id}@{record.version}",
        "access_url": record.uri, "access_format": record.access_format,
        "access_estsize": -1 if record.size is None else math.ceil(record.size / 1024),
        "target_name": record.title, "s_ra": ra, "s_dec": dec, "s_fov": fov,
        "s_region": f"CIRCLE ICRS {ra:.8f} {dec:.8f} {fov / 2:.8f}",
        "s_resolution": float(prov.get("pixel_scale_arcsec") or np.nan),
        "s_xel1": shape[1] if shape[1] is not None else -1, "s_xel2": shape[0] if shape[0] is not None else -1,
        "t_min": np.nan, "t_max": np.nan, "t_exptime": np.nan, "t_resolution": np.nan, "t_xel": -1,
        "em_min": np.nan if record.em_min is None else record.em_min.to_value("m"),
        "em_max": np.nan if record.em_max is None else record.em_max.to_value("m"),
        "em_res_power": np.nan, "em_xel": 1 if record.em_min is not None else -1, "o_ucd": "phot.flux.density;em.radio",
        "pol_states": f"/{prov['stokes']}/" if prov.get("stokes") else "", "pol_xel": 1 if prov.get("stokes") else -1,
        "facility_name": str(prov.get("telescope") or prov.get("facility_name") or ""),
        "instrument_name": str(prov.get("instrument_name") or ""), "version": record.version,
        "sha256": record.sha256 or "", "access_tier": record.access_tier,
    }


def votable_bytes(records: list[DatasetRecord], *, overflow: bool = False) -> bytes:
    """The records as an ObsCore VOTable; ``overflow``: MAXREC cut the result (DALI's ``OVERFLOW`` status)."""
    rows = [obscore_row(r) for r in records]
    table = Table(names=[c[0] for c in COLUMNS], dtype=[object if c[1] is str else c[1] for c in COLUMNS],
                  rows=[[row[c[0]] for c in COLUMNS] for row in rows] or None)
    for name, kind, unit, ucd in COLUMNS:
        if kind is str:
            table[name] = table[name].astype(str)
        if unit:
            table[name].unit = unit
        table[name].meta["ucd"] = ucd
    vot = VOTableFile.from_table(table)
    resource = vot.resources[0]
    resource.type = "results"
    resource.infos.append(Info(name="QUERY_STATUS", value="OK"))
    for field in resource.tables[0].fields:
        field.ucd = dict((c[0], c[3]) for c in COLUMNS)[field.name]
    out = io.BytesIO()
    vot.to_xml(out)
    if not overflow:
        return out.getvalue()
    # DALI 1.1 §4.4.1: the OVERFLOW status goes after the table, where a client reads the last status
    head, tail = out.getvalue().rsplit(b"</RESOURCE>", 1)
    return head + b' <INFO name="QUERY_STATUS" value="OVERFLOW"/>\n </RESOURCE>' + tail


def error_votable(message: str) -> bytes:
    vot = VOTableFile()
    from astropy.io.votable.tree import Resource

    resource = Resource(type="results")
    info = Info(name="QUERY_STATUS", value="ERROR")
    info.content = message
    resource.infos.append(info)
    vot.resources.append(resource)
    out = io.BytesIO()
    vot.to_xml(out)
    return out.getvalue()
