"""Where the models agree and where they conflict, as MOCs registered back into the Registry.

Each region is a derived dataset version: a MOC file (FITS) in a folder the registry harvests as a
``posix`` source, its footprint the MOC itself (so a region search finds it), its lineage the image it was
measured on, its provenance the runs (model, version, site) that made it. Each consensus is registered
under its own version folder, so older regions stay readable, as every version does.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np

from ..exceptions import InvalidArgument

SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,80}$")


def region_mocs(consensus, *, radius_deg: float, max_depth: int = 16) -> dict:
    """``{"agree": MOC, "conflict": MOC}``: discs of ``radius_deg`` around the detections of each kind
    (agree: the high-confidence ones), empty kinds left out."""
    from astropy.coordinates import Latitude, Longitude
    from mocpy import MOC
    import astropy.units as u

    table = consensus.table
    chosen = {"agree": table[table["high_confidence"]], "conflict": table[table["agreement"] == "conflict"]}
    return {kind: MOC.from_cones(Longitude(np.asarray(rows["ra"]) * u.deg), Latitude(np.asarray(rows["dec"]) * u.deg),
                                 radius=radius_deg * u.deg, max_depth=max_depth, union_strategy="small_cones")
            for kind, rows in chosen.items() if len(rows)}


def register(consensus, registry, *, folder: str | Path, analysis: str, image, version: str,
             radius_deg: float, source: str = "consensus") -> list:
    """Write the regions of ``consensus`` under ``folder`` and sync them into ``registry`` as the datasets
    ``<source>:<analysis>/agree.moc.fits`` and ``.../conflict.moc.fits`` at ``version``, derived from
    ``image`` (the DatasetRecord the runs measured). Returns their records."""
    if not SAFE.match(analysis) or not SAFE.match(version):
        raise InvalidArgument("analysis and version: letters, digits, '.', '_' or '-' (up to 80)")
    folder = Path(folder)
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"name": source, "objects": []}
    runs = ", ".join(f"{r['model']} {r['version']} at {r['site']}" for r in consensus.runs)
    keys = []
    for kind, moc in region_mocs(consensus, radius_deg=radius_deg).items():
        key = f"{analysis}/{version}/{kind}.moc.fits"
        path = folder / key
        path.parent.mkdir(parents=True, exist_ok=True)
        moc.save(str(path), format="fits", overwrite=True)
        entry = {"key": key, "size": path.stat().st_size, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                 "version": version, "title": f"where {runs} {'agree' if kind == 'agree' else 'conflict'}",
                 "footprint": {"moc": moc.to_string(format="ascii")}, "format": "application/fits",
                 "derived_from": [f"{image.uri}@{image.version}"],
                 "provenance": {"kind": f"{kind} region", "runs": runs}}
        manifest["objects"] = [o for o in manifest["objects"] if o["key"] != key] + [entry]
        keys.append(key)
    tmp = manifest_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    tmp.replace(manifest_path)
    if source not in {s["name"] for s in registry.sources()}:
        registry.add_source(source, "posix", str(manifest_path))
    registry.sync(source, force=True)
    return [registry.get(f"{source}:{key}", version) for key in keys]
