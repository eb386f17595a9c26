"""VLASS Quick Look archive laid out as NRAO serves it, read from a local path or over HTTP.

``<root>/<epoch>/<tile>/<image_dir>/<image_dir>.I.iter1.image.pbcor.tt0.subim.fits``, e.g.
``VLASS2.1/T10t01/VLASS2.1.ql.T10t01.J000228-003000.10.2048.v1/...``. The ``.vN`` suffix of the
image directory is the product version; footprints come from each image's FITS WCS.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from functools import partial
from typing import IO

from astropy.time import Time

from ...exceptions import InvalidSource, NotFound
from ..base import Candidate, Skipped, Source
from ..footprints import image_metadata, read_header
from ..options import text
from ..records import DatasetRecord
from ._io import check_uri, directory_names, filesystem, is_http, sha256_of, store_call

EPOCH_RE = re.compile(r"^VLASS\d\.\d$")
TILE_RE = re.compile(r"^T\d{2}t\d{2}$")
IMAGE_DIR_RE = re.compile(
    r"^(?P<epoch>VLASS\d\.\d)\.ql\.(?P<tile>T\d{2}t\d{2})\.(?P<name>J\d{6}[+-]\d{6})\.10\.2048\.v(?P<version>\d+)$"
)
IMAGE_SUFFIX = ".I.iter1.image.pbcor.tt0.subim.fits"
HEADER_BLOCK = 2880 * 8


def image_path(epoch: str, tile: str, image_dir: str) -> str:
    return f"{epoch}/{tile}/{image_dir}/{image_dir}{IMAGE_SUFFIX}"


class VlassQuickLookSource(Source):
    """NRAO VLASS Quick Look images (option ``hips``: a HiPS survey URL for viewing).

    The tree is read through fsspec: a local directory, or an HTTP server's autoindex pages.
    """

    kind = "vlass"
    OPTIONS = {"hips": text}  # the HiPS survey of these images (a URL or a folder)

    def __init__(self, name, uri, **kwargs):
        super().__init__(name, check_uri(uri, schemes=("file", "http", "https")), **kwargs)
        self.fs, self.root = filesystem(self.uri, self.credentials)
        if not is_http(self.uri):
            if not os.path.isdir(self.root):
                raise InvalidSource(f"VLASS archive root {self.root} is not a directory")
            self.uri = self.root

    def _call(self, fn, *args, **kwargs):
        return store_call(self.name, fn, *args, **kwargs)

    def _location(self, relative: str) -> str:
        return f"{self.root}/{relative}"

    def _list(self, relative: str) -> list[str]:
        try:
            return self._call(directory_names, self.fs, self._location(relative))
        except FileNotFoundError:
            raise NotFound(f"{self.name}: {self._location(relative)} not found") from None

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

    def _etag(self, location: str) -> str | None:
        """ETag (HTTP), else size and modification time; ``None`` when the file is missing."""
        try:
            info = self._call(self.fs.info, location)
        except FileNotFoundError:
            return None
        modified = info.get("mtime") or info.get("Last-Modified")
        return info.get("ETag") or f"{info.get('size')}-{modified}"

    # Source API -------------------------------------------------------------------------------
    def candidates(self) -> Iterator[Candidate | Skipped]:
        for relative, match in self._images():
            location = self._location(relative)
            etag = self._etag(location)
            if etag is None:
                yield Skipped(location, "image file missing from its directory")
            else:
                yield Candidate(location, etag, partial(self._record, location, match, etag))

    def _record(self, location: str, match: re.Match, etag: str | None) -> DatasetRecord:
        with self._call(self.fs.open, location, "rb", block_size=HEADER_BLOCK) as fh:
            header = self._call(read_header, fh)
        meta = image_metadata(header)
        with self._call(self.open_location, location) as fh:
            sha256, size = self._call(sha256_of, fh)
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

    def open_location(self, location: str) -> IO[bytes]:
        """A sequential reader (over HTTP, one streamed GET)."""
        return self.fs.open(location, "rb", block_size=0) if is_http(location) else self.fs.open(location, "rb")

    def open(self, record: DatasetRecord) -> IO[bytes]:
        try:
            return self._call(self.open_location, record.uri)
        except FileNotFoundError:
            raise NotFound(f"{record.uri} is gone from {self.name}") from None
