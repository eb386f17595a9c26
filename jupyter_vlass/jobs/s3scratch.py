"""A site's scratch in an S3 bucket (``s3://bucket/prefix``, through s3fs): inputs staged as multipart
uploads that resume after an interruption, verified, and skipped when the same bytes are already there.
The job reads them from there (:mod:`.execute`) and writes its results beside them.

Verification, end to end: every byte read from the source is hashed (sha256, checked against the dataset
version's before the upload is completed) and every part's MD5 is checked against the ETag the store
answers, so what the store holds is what was read. The object carries the sha256 as metadata
(``x-amz-meta-sha256``); an object with that sha256 and size is the same bytes and is not sent again.

Resume: an interrupted upload stays open on the store. The next ``stage`` of the same version finds it
(``ListMultipartUploads``), keeps every part whose size and MD5 match the source's bytes at that offset
(``ListParts``) and sends only the rest. A half-sent object is never visible under its name.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..exceptions import CorruptData, InvalidRequest, SourceUnavailable
from .staging import Progress, Staged, staged_name

PART = 16 << 20  # S3 parts are at least 5 MiB (but the last)
IN_FLIGHT = 4


@dataclass(frozen=True)
class StoreOptions:
    """How to reach the store: ``endpoint_url`` (SeaweedFS, MinIO, Ceph...), ``anon`` for a store without
    credentials; otherwise the usual AWS credentials of the account (environment or ``~/.aws``)."""

    endpoint_url: str | None = None
    anon: bool = False

    def filesystem(self):
        import s3fs

        client = {"endpoint_url": self.endpoint_url} if self.endpoint_url else {}
        return s3fs.S3FileSystem(anon=self.anon, client_kwargs=client, skip_instance_cache=True,
                                 use_listings_cache=False,
                                 config_kwargs={"connect_timeout": 5, "read_timeout": 30,
                                                "retries": {"max_attempts": 2}})

    def to_json(self) -> dict:
        return {"endpoint_url": self.endpoint_url, "anon": self.anon}


def split_s3(uri: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` -> (bucket, prefix), refused unless it is one."""
    if not isinstance(uri, str) or not uri.startswith("s3://"):
        raise InvalidRequest(f"{str(uri)[:60]!r} is not an s3:// URI")
    bucket, _, prefix = uri[5:].partition("/")
    if not bucket or ".." in prefix.split("/"):
        raise InvalidRequest(f"{uri[:60]!r}: expected s3://bucket/prefix")
    return bucket, prefix.strip("/")


def _unavailable(error: Exception) -> SourceUnavailable:
    return SourceUnavailable(f"the S3 store did not answer ({type(error).__name__}: {str(error)[:160]}); "
                             "staging resumes where it stopped on the next try")


class S3Scratch:
    """Staged inputs as objects under ``uri`` (``s3://bucket/prefix``)."""

    def __init__(self, uri: str, store: StoreOptions | None = None, *, part_size: int = PART):
        self.bucket, self.prefix = split_s3(uri)
        self.store = store or StoreOptions()
        self.part_size = part_size
        self._fs = None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    @property
    def fs(self):
        if self._fs is None:
            self._fs = self.store.filesystem()
        return self._fs

    def key(self, name: str) -> str:
        """Inputs go under ``<prefix>/inputs/``; results (written by the job) under ``<prefix>/results/``."""
        return posixpath.join(self.prefix, "inputs", name) if self.prefix else f"inputs/{name}"

    def results_uri(self, result_key: str) -> str:
        return f"{self.uri}/results/{result_key}"

    def _call(self, method: str, **kwargs):
        try:
            return self.fs.call_s3(method, **kwargs)
        except (OSError, ConnectionError, TimeoutError) as error:
            raise _unavailable(error) from None
        except Exception as error:  # botocore's endpoint and client errors
            if type(error).__module__.startswith(("botocore", "aiobotocore")):
                raise _unavailable(error) from None
            raise

    def _present(self, key: str, sha256: str | None, size: int | None) -> bool:
        try:
            head = self.fs.call_s3("head_object", Bucket=self.bucket, Key=key)
        except FileNotFoundError:
            return False
        except Exception as error:
            if getattr(error, "response", {}).get("Error", {}).get("Code") in ("404", "NoSuchKey"):
                return False
            raise _unavailable(error) from None
        return (sha256 is not None and head.get("Metadata", {}).get("sha256") == sha256
                and (size is None or head["ContentLength"] == size))

    def _open_upload(self, key: str, sha256: str | None) -> tuple[str, dict[int, dict]]:
        """The interrupted upload of ``key`` to resume (with its parts) or a new one."""
        try:
            self.fs.call_s3("head_bucket", Bucket=self.bucket)
        except Exception:
            self._call("create_bucket", Bucket=self.bucket)
        open_uploads = self._call("list_multipart_uploads", Bucket=self.bucket, Prefix=key).get("Uploads", [])
        for upload in sorted(open_uploads, key=lambda u: u["Initiated"], reverse=True):
            if upload["Key"] == key:
                parts = self._call("list_parts", Bucket=self.bucket, Key=key, UploadId=upload["UploadId"])
                return upload["UploadId"], {p["PartNumber"]: p for p in parts.get("Parts", [])}
        created = self._call("create_multipart_upload", Bucket=self.bucket, Key=key,
                             Metadata={"sha256": sha256} if sha256 else {})
        return created["UploadId"], {}

    def stage(self, registry, record, *, progress: Progress | None = None) -> Staged:
        """The dataset version's bytes as ``s3://bucket/prefix/<sha256>-<name>``, verified."""
        sha256 = record.sha256
        key = self.key(staged_name(sha256 or hashlib.sha256(record.uri.encode()).hexdigest(), record.uri))
        uri = f"s3://{self.bucket}/{key}"
        if self._present(key, sha256, record.size):
            if progress:
                progress(record.size or 0, record.size)
            return Staged(uri, sent=0, reused=record.size or 0)
        upload_id, done_parts = self._open_upload(key, sha256)
        digest, sent, reused = hashlib.sha256(), 0, 0
        parts: list[dict] = []
        pending = []

        def collect() -> None:  # progress counts bytes the store has confirmed
            nonlocal sent
            sent += self._collect(pending.pop(0), parts)
            if progress:
                progress(sent + reused, record.size)

        with registry.open(record) as src, ThreadPoolExecutor(IN_FLIGHT) as pool:
            number = 0
            while chunk := _read_full(src.read, self.part_size):
                number += 1
                digest.update(chunk)
                md5 = hashlib.md5(chunk).hexdigest()
                old = done_parts.get(number)
                if old is not None and old["Size"] == len(chunk) and old["ETag"].strip('"') == md5:
                    parts.append({"PartNumber": number, "ETag": old["ETag"]})
                    reused += len(chunk)
                    if progress:
                        progress(sent + reused, record.size)
                    continue
                while len(pending) >= IN_FLIGHT:  # bounded memory: at most IN_FLIGHT parts held
                    collect()
                pending.append((number, md5, len(chunk), pool.submit(
                    self._call, "upload_part", Bucket=self.bucket, Key=key, UploadId=upload_id,
                    PartNumber=number, Body=chunk)))
            while pending:
                collect()
        if sha256 and digest.hexdigest() != sha256:
            self._call("abort_multipart_upload", Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise CorruptData(f"{record.dataset_id}@{record.version}: the bytes read do not match its sha256; "
                              "nothing was staged")
        parts.sort(key=lambda p: p["PartNumber"])
        if not parts:  # an empty file: one empty part
            answer = self._call("upload_part", Bucket=self.bucket, Key=key, UploadId=upload_id,
                                PartNumber=1, Body=b"")
            parts = [{"PartNumber": 1, "ETag": answer["ETag"]}]
        self._call("complete_multipart_upload", Bucket=self.bucket, Key=key, UploadId=upload_id,
                   MultipartUpload={"Parts": parts})
        return Staged(uri, sent=sent, reused=reused)

    @staticmethod
    def _collect(item, parts: list[dict]) -> int:
        number, md5, size, future = item
        etag = future.result()["ETag"]
        if etag.strip('"') != md5:
            raise CorruptData(f"part {number}: the store answered ETag {etag}, not the MD5 of what was sent")
        parts.append({"PartNumber": number, "ETag": etag})
        return size

    def clean(self, *, quota_bytes: int, keep: set[str] = frozenset()) -> list[str]:
        """Remove the least recently written staged objects (never those in ``keep``) until the scratch
        fits ``quota_bytes``; returns the URIs removed."""
        try:
            listing = self.fs.find(f"{self.bucket}/{self.key('')}", detail=True)
        except FileNotFoundError:
            return []
        objects = sorted(listing.values(), key=lambda o: o.get("LastModified") or 0)
        total = sum(o["size"] for o in objects)
        removed = []
        for obj in objects:
            if total <= quota_bytes:
                break
            uri = f"s3://{obj['name']}"
            if uri in keep:
                continue
            self.fs.rm_file(obj["name"])
            total -= obj["size"]
            removed.append(uri)
        return removed


def _read_full(read: Callable[[int], bytes], size: int) -> bytes:
    """``size`` bytes (fewer only at the end): a stream may answer short reads."""
    chunks, left = [], size
    while left:
        chunk = read(left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
