"""A survey's footprint catalogue: one table file (ECSV, FITS, VOTable, Parquet, or an ObsCore table from a TAP
service), one row per dataset version, loaded in bulk (``federation.bulk``).

Made for surveys too large to harvest item by item (10^7 tiles): its sync reads the table column by column and
inserts new ``(dataset_id, version)`` rows in batches; rows the table no longer has are withdrawn. A row is
never changed in place: a changed dataset is a new version.
"""

from __future__ import annotations

import hashlib
import os
from typing import IO

from astropy.table import Table

from ...exceptions import CorruptData, InvalidSource, NotFound
from ..base import Source
from ..records import DatasetRecord
from ._io import HttpClient, check_uri, is_http, local_path

FORMATS = {".ecsv": "ascii.ecsv", ".fits": "fits", ".fit": "fits", ".xml": "votable", ".vot": "votable",
           ".parquet": "parquet", ".csv": "ascii.csv"}


class CatalogueSource(Source):
    """``uri``: the table file (a local path or ``file://``); its datasets' own URIs are paths or http(s) URLs."""

    kind = "catalogue"
    bulk = True  # synced by federation.bulk, not harvested item by item

    def __init__(self, name, uri, **kwargs):
        super().__init__(name, check_uri(uri, schemes=("file",)), **kwargs)
        self.path = local_path(self.uri)
        if not os.path.isfile(self.path):
            raise InvalidSource(f"catalogue {self.path} does not exist")
        extension = os.path.splitext(self.path)[1].lower()
        if extension not in FORMATS:
            raise InvalidSource(f"catalogue {self.path}: not a table file astropy reads here "
                                f"(one of {', '.join(sorted(FORMATS))})")
        self.format = FORMATS[extension]
        self.uri = self.path

    def fingerprint(self) -> str:
        """The file's sha256 (a re-written file with the same rows is ``unchanged``)."""
        digest = hashlib.sha256()
        try:
            with open(self.path, "rb") as stream:
                for chunk in iter(lambda: stream.read(1 << 20), b""):
                    digest.update(chunk)
        except FileNotFoundError:
            raise NotFound(f"{self.name}: catalogue {self.path} is gone") from None
        return digest.hexdigest()

    def table(self) -> Table:
        try:
            return Table.read(self.path, format=self.format)
        except FileNotFoundError:
            raise NotFound(f"{self.name}: catalogue {self.path} is gone") from None
        except Exception as exc:  # astropy's readers raise many types for a broken file
            raise CorruptData(f"{self.name}: cannot read {os.path.basename(self.path)} as {self.format}: "
                              f"{str(exc)[:200]}") from None

    def open(self, record: DatasetRecord) -> IO[bytes]:
        if is_http(record.uri):
            return HttpClient(self.credentials.for_returned_urls()).get(record.uri, stream=True).raw
        path = local_path(record.uri)
        if not os.path.isabs(record.uri.removeprefix("file://")):
            path = os.path.join(os.path.dirname(self.path), record.uri)
        try:
            return open(path, "rb")
        except FileNotFoundError:
            raise NotFound(f"{record.uri} not found") from None
