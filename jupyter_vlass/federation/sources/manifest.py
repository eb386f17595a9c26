"""Object stores described by a manifest: ``s3manifest`` (S3 via s3fs) and ``posix`` (a mount).

The manifest (JSON) lists the objects with size and sha256 and, for each, a footprint
(``{"ra", "dec", "radius"}`` or ``{"polygon": ...}``); a FITS object without one gets its
footprint from its header, read with a ranged request. Sync checks every object is present
with the declared size: a store that fails mid-sync aborts the sync, leaving the registry
as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
from collections.abc import Iterator
from functools import partial
from typing import IO

from ...exceptions import CorruptData, InvalidSource, NotFound
from ..base import Candidate, Skipped, Source
from ..footprints import Footprint, image_metadata, read_header
from ..options import boolean, http_url, option, text
from ..records import ACCESS_TIERS, DatasetRecord
from ._io import check_uri, local_path, normalize_sha256, store_call


class ManifestSource(Source):
    """Shared logic; subclasses provide the filesystem."""

    def _fs(self):
        raise NotImplementedError

    def _root(self) -> str:
        return posixpath.dirname(self._manifest_path())

    def _manifest_path(self) -> str:
        raise NotImplementedError

    def _object_uri(self, key: str) -> str:
        raise NotImplementedError

    def _call(self, fn, *args, **kwargs):
        return store_call(self.name, fn, *args, **kwargs)

    def _read_manifest(self) -> tuple[dict, bytes]:
        try:
            raw = self._call(self._fs().cat_file, self._manifest_path())
        except FileNotFoundError:
            raise NotFound(f"{self.name}: manifest {self.uri} not found") from None
        try:
            doc = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CorruptData(f"{self.name}: manifest is not JSON ({exc})") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("objects"), list):
            raise CorruptData(f"{self.name}: manifest needs an 'objects' list")
        return doc, raw

    def fingerprint(self) -> str:
        return hashlib.sha256(self._read_manifest()[1]).hexdigest()

    def candidates(self) -> Iterator[Candidate | Skipped]:
        doc, _ = self._read_manifest()
        default_version = str(doc.get("version", "1"))
        for entry in doc["objects"]:
            key = entry.get("key") if isinstance(entry, dict) else None
            if not isinstance(key, str) or not key or key.startswith("/") or ".." in key.split("/"):
                yield Skipped(f"{self.uri}#{key!r}", "manifest entry needs a relative 'key'")
                continue
            uri = self._object_uri(key)
            etag = hashlib.sha256(json.dumps(entry, sort_keys=True).encode()).hexdigest()
            path = posixpath.join(self._root(), key)
            try:
                info = self._call(self._fs().info, path)
            except FileNotFoundError:
                yield Skipped(uri, "object listed in the manifest is missing from the store")
                continue
            yield Candidate(uri, etag, partial(self._record, entry, key, uri, path, info, etag, default_version))

    def _record(self, entry, key, uri, path, info, etag, default_version) -> DatasetRecord:
        sha256 = normalize_sha256(entry.get("sha256"))
        size = entry.get("size")
        if not isinstance(size, int) or size < 0:
            raise CorruptData(f"object {key!r}: 'size' must be a non-negative integer")
        if info.get("size") is not None and int(info["size"]) != size:
            raise CorruptData(f"object {key!r}: store has {info['size']} bytes, manifest says {size}")
        em_min = em_max = None
        provenance = dict(entry.get("provenance") or {})
        if isinstance(entry.get("footprint"), dict):
            footprint = Footprint.from_spec(entry["footprint"])
        elif key.lower().endswith((".fits", ".fit", ".fits.gz")):
            with self._call(self._fs().open, path, "rb", block_size=2880 * 8) as fh:
                meta = image_metadata(read_header(fh))
            footprint, em_min, em_max = meta.footprint, meta.em_min, meta.em_max
            provenance.setdefault("telescope", meta.telescope)
        else:
            raise CorruptData(f"object {key!r} has no footprint and is not a FITS image")
        tier = entry.get("access_tier", "public")
        if tier not in ACCESS_TIERS:
            raise CorruptData(f"object {key!r}: access_tier must be one of {ACCESS_TIERS}")
        derived = entry.get("derived_from", [])
        if not isinstance(derived, list):
            raise CorruptData(f"object {key!r}: 'derived_from' must be a list")
        return DatasetRecord(
            dataset_id=f"{self.name}:{key}",
            version=str(entry.get("version", default_version)),
            uri=uri,
            sha256=sha256,
            title=str(entry.get("title") or key),
            source=self.name,
            footprint=footprint,
            em_min=em_min,
            em_max=em_max,
            access_tier=tier,
            size=size,
            access_format=str(entry.get("format", "application/fits")),
            provenance=provenance,
            derived_from=tuple(str(d) for d in derived),
            etag=etag,
        )

    def open(self, record: DatasetRecord) -> IO[bytes]:
        key = record.dataset_id.split(":", 1)[1]
        return self._call(self._fs().open, posixpath.join(self._root(), key), "rb")


class S3ManifestSource(ManifestSource):
    """``s3://bucket/prefix/manifest.json``; options: ``endpoint_url``, ``anon``, ``region``."""

    kind = "s3manifest"
    OPTIONS = {"endpoint_url": http_url, "anon": boolean, "region": text}

    def __init__(self, name, uri, **kwargs):
        super().__init__(name, check_uri(uri, schemes=("s3",)), **kwargs)
        if not self.uri.endswith(".json"):
            raise InvalidSource("an s3manifest URI must name the manifest JSON object")
        self._filesystem = None

    def _fs(self):
        if self._filesystem is None:
            import s3fs

            client_kwargs = {}
            if self.options.get("endpoint_url"):
                client_kwargs["endpoint_url"] = self.options["endpoint_url"]
            if self.options.get("region"):
                client_kwargs["region_name"] = self.options["region"]
            key, secret = self.credentials.get("key"), self.credentials.get("secret")
            anon = option(self.options, "anon", boolean)
            if anon is None:  # no credentials of ours nor in the environment: a public bucket
                anon = not key and not os.environ.get("AWS_ACCESS_KEY_ID")
            self._filesystem = s3fs.S3FileSystem(
                key=key, secret=secret, anon=bool(anon) and not key,
                client_kwargs=client_kwargs,
                config_kwargs={"connect_timeout": 5, "read_timeout": 15, "retries": {"max_attempts": 2}},
                skip_instance_cache=True, use_listings_cache=False,
            )
        return self._filesystem

    def _manifest_path(self) -> str:
        return self.uri.removeprefix("s3://")

    def _object_uri(self, key: str) -> str:
        return "s3://" + posixpath.join(self._root(), key)


class PosixManifestSource(ManifestSource):
    """The same manifest on a mounted filesystem (e.g. a Lustre project directory)."""

    kind = "posix"

    def __init__(self, name, uri, **kwargs):
        super().__init__(name, check_uri(uri, schemes=("file",)), **kwargs)
        self.path = local_path(self.uri)
        if not os.path.isfile(self.path):
            raise InvalidSource(f"manifest {self.path} does not exist")
        self.uri = self.path

    def _fs(self):
        from fsspec.implementations.local import LocalFileSystem

        return LocalFileSystem()

    def _manifest_path(self) -> str:
        return self.path

    def _object_uri(self, key: str) -> str:
        return os.path.join(self._root(), key)
