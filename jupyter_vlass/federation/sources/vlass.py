"""VLASS Quick Look archive laid out as NRAO serves it, read from a local path or over HTTP.

``<root>/<epoch>/<tile>/<image_dir>/<image_dir>.I.iter1.image.pbcor.tt0.subim.fits``, e.g.
``VLASS2.1/T10t01/VLASS2.1.ql.T10t01.J000228-003000.10.2048.v1/...``. The ``.vN`` suffix of the
image directory is the product version; footprints come from each image's FITS WCS.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import IO

from astropy.time import Time

from ...exceptions import CorruptData, InvalidSource
from ..base import HarvestItem, Skipped, Source, Unchanged
from ..footprints import image_metadata, read_header
from ..records import DatasetRecord
from ._io import HttpClient, check_uri, is_http, list_http_directory, list_local_directory, sha256_of

EPOCH_RE = re.compile(r"^VLASS\d\.\d$")
TILE_RE = re.compile(r"^T\d{2}t\d{2}$")
IMAGE_DIR_RE = re.compile(
    r"^(?P<epoch>VLASS\d\.\d)\.ql\.(?P<tile>T\d{2}t\d{2})\.(?P<name>J\d{6}[+-]\d{6})\.10\.2048\.v(?P<version>\d+)$"
)
IMAGE_SUFFIX = ".I.iter1.image.pbcor.tt0.subim.fits"


def image_path(epoch: str, tile: str, image_dir: str) -> str:
    return f"{epoch}/{tile}/{image_dir}/{image_dir}{IMAGE_SUFFIX}"


class VlassQuickLookSource(Source):
    """NRAO VLASS Quick Look images (option ``hips``: a HiPS survey URL for viewing)."""

    kind = "vlass"

    def __init__(self, name, uri, **kwargs):
        super().__init__(name, check_uri(uri, schemes=("file", "http", "https")), **kwargs)
        self.remote = is_http(self.uri)
        self.root = self.uri.rstrip("/") if self.remote else os.path.abspath(self.uri.removeprefix("file://"))
        if not self.remote:
            if not os.path.isdir(self.root):
                raise InvalidSource(f"VLASS archive root {self.root} is not a directory")
            self.uri = self.root
        self.http = HttpClient(self.credentials) if self.remote else None

    # listing ------------------------------------------------------------------------------
    def _list(self, relative: str) -> list[str]:
        if self.remote:
            return list_http_directory(self.http, f"{self.root}/{relative}")
        return list_local_directory(os.path.join(self.root, relative))

    def _images(self) -> Iterator[tuple[str, re.Match]]:
        for epoch in self._list(""):
            if not EPOCH_RE.match(epoch.rstrip("/")) or not epoch.endswith("/"):
                continue
            for tile in self._list(epoch):
                if not TILE_RE.match(tile.rstrip("/")):
                    continue
                for image_dir in self._list(epoch + tile):
                    match = IMAGE_DIR_RE.match(image_dir.rstrip("/"))
                    if match and match["epoch"] == epoch.rstrip("/") and match["tile"] == tile.rstrip("/"):
                        yield image_path(match["epoch"], match["tile"], match.group(0)), match

    def _location(self, relative: str) -> str:
        return f"{self.root}/{relative}" if self.remote else os.path.join(self.root, relative)

    def _etag(self, location: str) -> str | None:
        if self.remote:
            head = self.http.head(location).headers
            tag = head.get("ETag") or f"{head.get('Last-Modified')}-{head.get('Content-Length')}"
            return tag
        try:
            st = os.stat(location)
        except FileNotFoundError:
            return None
        return f"{st.st_size}-{st.st_mtime_ns}"

    @contextmanager
    def _open_location(self, location: str) -> Iterator[IO[bytes]]:
        if self.remote:
            with self.http.open(location) as stream:
                yield stream
        else:
            with open(location, "rb") as fh:
                yield fh

    # Source API -------------------------------------------------------------------------------
    def harvest(self, known: Mapping[str, str]) -> Iterator[HarvestItem]:
        for relative, match in self._images():
            location = self._location(relative)
            etag = self._etag(location)
            if etag is None:
                yield Skipped(location, "image file missing from its directory")
                continue
            if etag and known.get(location) == etag:
                yield Unchanged(location)
                continue
            try:
                yield self._record(location, match, etag)
            except CorruptData as exc:
                yield Skipped(location, exc.message)

    def _record(self, location: str, match: re.Match, etag: str | None) -> DatasetRecord:
        with self._open_location(location) as fh:
            header = read_header(fh)
        meta = image_metadata(header)
        with self._open_location(location) as fh:
            sha256, size = sha256_of(fh)
        epoch, tile, name = match["epoch"], match["tile"], match["name"]
        release = None
        if meta.date_obs:
            try:
                release = Time(meta.date_obs)
            except ValueError:
                release = None
        return DatasetRecord(
            dataset_id=f"{self.name}:{epoch}.ql.{tile}.{name}",
            version=f"v{match['version']}",
            uri=location,
            sha256=sha256,
            title=f"VLASS {epoch} Quick Look {tile} {name}",
            source=self.name,
            footprint=meta.footprint,
            em_min=meta.em_min,
            em_max=meta.em_max,
            size=size,
            release_date=release,
            provenance={
                "epoch": epoch,
                "tile": tile,
                "image_dir": match.group(0),
                "telescope": meta.telescope,
                "date_obs": meta.date_obs,
                "stokes": meta.stokes,
                "shape": list(meta.shape),
                "pixel_scale_arcsec": round(float(meta.pixel_scale.arcsec), 4),
                "origin": header.get("ORIGIN"),
            },
            extra={"hips": self.options["hips"]} if self.options.get("hips") else {},
            etag=etag,
        )

    def open(self, record: DatasetRecord) -> IO[bytes]:
        if self.remote:
            return self.http.get(record.uri, stream=True).raw
        return open(record.uri, "rb")
