"""Curated, versioned dataset packages (Frictionless ``datapackage.json``).

Several versions of one package sit side by side (``<root>/<name>/<version>/datapackage.json``).
A package declares its sky footprint (``"sky": {"ra", "dec", "radius"}`` or
``{"polygon": [[ra, dec], ...]}``, at package or resource level), a ``version``, a
per-resource ``hash`` (``sha256:<hex>``), and optionally ``derivedFrom`` (``uri@version`` pins)
and ``accessTier``. Resource hashes are verified during sync: a package whose bytes do not
match its descriptor is skipped and reported.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from functools import partial
from typing import IO

import numpy as np
from astropy.coordinates import Angle, SkyCoord
from astropy.time import Time

from ...exceptions import CorruptData, InvalidSource
from ..base import Candidate, Source
from ..footprints import Footprint
from ..records import ACCESS_TIERS, DatasetRecord
from ._io import check_uri, local_path, normalize_sha256, sha256_of

DESCRIPTOR = "datapackage.json"


class DataPackageSource(Source):
    """A directory tree of Frictionless data packages (or one ``datapackage.json``)."""

    kind = "datapackage"

    def __init__(self, name, uri, **kwargs):
        super().__init__(name, check_uri(uri, schemes=("file",)), **kwargs)
        self.root = local_path(self.uri)
        if not os.path.exists(self.root):
            raise InvalidSource(f"no such path: {self.root}")
        self.uri = self.root

    def _descriptors(self) -> list[str]:
        if os.path.isfile(self.root):
            return [self.root]
        found = []
        for folder, dirs, files in os.walk(self.root):
            dirs.sort()
            if DESCRIPTOR in files:
                found.append(os.path.join(folder, DESCRIPTOR))
        return found

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for path in self._descriptors():
            st = os.stat(path)
            digest.update(f"{path}:{st.st_size}:{st.st_mtime_ns};".encode())
        return digest.hexdigest()

    def candidates(self) -> Iterator[Candidate]:
        for path in self._descriptors():
            with open(path, "rb") as fh:
                raw = fh.read()
            etag = hashlib.sha256(raw).hexdigest()
            yield Candidate(path, etag, partial(self._record, path, raw, etag))

    def _record(self, path: str, raw: bytes, etag: str) -> DatasetRecord:
        try:
            doc = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CorruptData(f"descriptor is not JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise CorruptData("descriptor must be a JSON object")
        for key in ("name", "version", "resources"):
            if not doc.get(key):
                raise CorruptData(f"descriptor has no {key!r}")
        resources = doc["resources"]
        if not isinstance(resources, list):
            raise CorruptData("'resources' must be a list")
        folder = os.path.dirname(path)
        footprints, size = [], 0
        for resource in resources:
            size += self._verify(folder, resource)
            if isinstance(resource.get("sky"), dict):
                footprints.append(Footprint.from_spec(resource["sky"]))
        if isinstance(doc.get("sky"), dict):
            footprint = Footprint.from_spec(doc["sky"])
        elif footprints:
            footprint = _union(footprints)
        else:
            raise CorruptData("descriptor declares no sky footprint ('sky')")
        tier = doc.get("accessTier", "public")
        if tier not in ACCESS_TIERS:
            raise CorruptData(f"accessTier must be one of {ACCESS_TIERS}, got {tier!r}")
        derived = doc.get("derivedFrom", [])
        if not isinstance(derived, list) or not all(isinstance(d, str) for d in derived):
            raise CorruptData("'derivedFrom' must be a list of 'uri@version' strings")
        created = None
        if doc.get("created"):
            try:
                created = Time(doc["created"])
            except ValueError:
                raise CorruptData(f"bad 'created' date {doc['created']!r}") from None
        return DatasetRecord(
            dataset_id=f"{self.name}:{doc['name']}",
            version=str(doc["version"]),
            uri=path,
            sha256=etag,
            title=str(doc.get("title") or doc["name"]),
            source=self.name,
            footprint=footprint,
            access_tier=tier,
            size=size,
            dataproduct_type=str(doc.get("dataproductType", "image")),
            access_format="application/vnd.datapackage+json",
            release_date=created,
            provenance={"licenses": doc.get("licenses", []), "sources": doc.get("sources", []),
                        "resources": [r.get("path") for r in resources]},
            derived_from=tuple(derived),
            etag=etag,
        )

    @staticmethod
    def _verify(folder: str, resource) -> int:
        if not isinstance(resource, dict) or not isinstance(resource.get("path"), str):
            raise CorruptData("each resource needs a 'path'")
        rel = resource["path"]
        target = os.path.realpath(os.path.join(folder, rel))
        if not target.startswith(os.path.realpath(folder) + os.sep):
            raise CorruptData(f"resource path {rel!r} leaves the package folder")
        expected = normalize_sha256(resource.get("hash") or resource.get("sha256"))
        try:
            with open(target, "rb") as fh:
                actual, size = sha256_of(fh)
        except FileNotFoundError:
            raise CorruptData(f"resource {rel!r} is missing") from None
        if actual != expected:
            raise CorruptData(f"resource {rel!r} does not match its sha256 (corrupt or modified)")
        if "bytes" in resource and int(resource["bytes"]) != size:
            raise CorruptData(f"resource {rel!r} has {size} bytes, descriptor says {resource['bytes']}")
        return size

    def open(self, record: DatasetRecord) -> IO[bytes]:
        """The package descriptor (its data files are listed in ``record.provenance["resources"]``)."""
        return open(record.uri, "rb")


def _union(footprints: list[Footprint]) -> Footprint:
    moc = footprints[0].moc
    for other in footprints[1:]:
        moc = moc.union(other.moc)
    centers = SkyCoord([f.center for f in footprints])
    xyz = centers.cartesian.xyz.value.mean(axis=1)
    xyz /= np.linalg.norm(xyz)
    center = SkyCoord(x=xyz[0], y=xyz[1], z=xyz[2], representation_type="cartesian").spherical
    center = SkyCoord(center.lon, center.lat, frame="icrs")
    radius = max(center.separation(f.center) + f.radius for f in footprints)
    return Footprint(moc, center, Angle(radius))
