"""Small I/O helpers shared by sources: HTTP with timeouts and typed errors, local paths,
fsspec filesystems whose failures become typed errors."""

from __future__ import annotations

import hashlib
import os
from typing import IO
from urllib.parse import urlparse

import requests
import requests.auth

from ...exceptions import (CorruptData, InvalidSource, NotFound, SourceTimeout, SourceUnauthorized,
                           SourceUnavailable, VlassError)
from ..credentials import Credentials, origin, redact
from ...patterns import SHA256

DEFAULT_TIMEOUT = 30.0
CHUNK = 1 << 20


class OriginBoundAuth(requests.auth.AuthBase):
    """The credentials' headers on requests to ``uri``'s origin only: a URL the service sends the client on
    to (VOSI capabilities, a redirect) at another origin gets none."""

    def __init__(self, credentials: Credentials, uri: str):
        self.headers, self.origin = credentials.http_headers(), origin(uri)

    def __call__(self, request):
        if self.headers and origin(request.url) == self.origin:
            request.headers.update(self.headers)
        return request


def is_http(uri: str) -> bool:
    return urlparse(uri).scheme in ("http", "https")


def check_uri(uri: str, *, schemes: tuple[str, ...]) -> str:
    """Reject a URI whose scheme is not allowed (and any control character)."""
    if not isinstance(uri, str) or not uri or any(ord(c) < 32 for c in uri):
        raise InvalidSource(f"bad URI {uri!r}")
    scheme = urlparse(uri).scheme or "file"
    if len(scheme) == 1:  # a Windows drive letter is not a scheme
        scheme = "file"
    if scheme not in schemes:
        raise InvalidSource(f"URI scheme {scheme!r} is not supported here (use one of: {', '.join(schemes)})")
    if scheme in ("http", "https") and not urlparse(uri).netloc:
        raise InvalidSource(f"bad URL {uri!r}: no host")
    return uri


class HttpClient:
    """requests with a timeout on every call and HTTP failures turned into typed errors."""

    def __init__(self, credentials: Credentials | None = None, *, timeout: float = DEFAULT_TIMEOUT):
        self.credentials = credentials or Credentials()
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers.update(self.credentials.http_headers())

    def get(self, url: str, *, stream: bool = False, headers: dict | None = None, timeout: float | None = None):
        try:
            response = self.session.get(url, stream=stream, headers=headers, timeout=timeout or self.timeout)
        except requests.Timeout:
            raise SourceTimeout(f"{_host(url)} did not answer within {timeout or self.timeout:g} s") from None
        except requests.RequestException as exc:
            raise SourceUnavailable(redact(f"cannot reach {_host(url)}: {type(exc).__name__}", self.credentials)) from None
        raise_for_status(response, url)
        return response


def raise_for_status(response: requests.Response, url: str) -> None:
    if response.status_code in (401, 403):
        raise SourceUnauthorized(f"{_host(url)} refused access (HTTP {response.status_code})")
    if response.status_code == 404:
        raise NotFound(f"{url} not found (HTTP 404)")
    if response.status_code >= 400:
        raise SourceUnavailable(f"{_host(url)} answered HTTP {response.status_code}")


def _host(url: str) -> str:
    return urlparse(url).netloc or url


def local_path(uri: str) -> str:
    """The absolute path a plain path or a ``file://`` URI names."""
    return os.path.abspath(uri.removeprefix("file://"))


def filesystem(uri: str, credentials: Credentials, *, timeout: float = DEFAULT_TIMEOUT):
    """``(fsspec filesystem, root)`` for a local path, ``file://`` or ``http(s)://`` URI."""
    if is_http(uri):
        import aiohttp
        from fsspec.implementations.http import HTTPFileSystem

        fs = HTTPFileSystem(skip_instance_cache=True, use_listings_cache=False, client_kwargs={
            "headers": credentials.http_headers(), "timeout": aiohttp.ClientTimeout(total=timeout)})
        return fs, uri.rstrip("/")
    from fsspec.implementations.local import LocalFileSystem

    return LocalFileSystem(), local_path(uri)


def store_call(name: str, fn, *args, **kwargs):
    """Run an fsspec call for source ``name``; store failures become typed errors.

    ``FileNotFoundError`` passes through: callers decide whether missing is an error.
    """
    try:
        return fn(*args, **kwargs)
    except (FileNotFoundError, VlassError):
        raise
    except PermissionError as exc:
        raise SourceUnauthorized(f"{name}: access denied ({exc})") from None
    except TimeoutError:
        raise SourceTimeout(f"{name}: the store did not answer in time") from None
    except OSError as exc:  # connection refused or reset, a failing disk
        raise SourceUnavailable(f"{name}: cannot reach the store ({type(exc).__name__})") from None
    except Exception as exc:  # aiohttp/botocore raise their own classes; report, never crash
        status = getattr(exc, "status", None)
        if status in (401, 403) or "AccessDenied" in repr(exc) or "Forbidden" in repr(exc):
            raise SourceUnauthorized(f"{name}: access denied") from None
        if isinstance(status, int):
            raise SourceUnavailable(f"{name}: the store answered HTTP {status}") from None
        raise SourceUnavailable(f"{name}: store unavailable ({type(exc).__name__})") from None


def directory_names(fs, path: str) -> list[str]:
    """Entry names under ``path`` (directories end with '/'); HTTP autoindex pages included."""
    names = set()
    for entry in fs.ls(path.rstrip("/") + "/", detail=True):
        name = entry["name"].rstrip("/").rsplit("/", 1)[-1]
        if name and "?" not in name and "#" not in name:
            names.add(requests.utils.unquote(name) + ("/" if entry["type"] == "directory" else ""))
    return sorted(names)


def sha256_of(fileobj: IO[bytes]) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    while chunk := fileobj.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size

def normalize_sha256(value) -> str:
    """Accept ``<hex>`` or ``sha256:<hex>`` (Frictionless style); raise CorruptData otherwise."""
    if not isinstance(value, str):
        raise CorruptData(f"sha256 must be a string, got {value!r}")
    text = value.lower().removeprefix("sha256:")
    if not SHA256.match(text):
        raise CorruptData(f"bad sha256 {value!r}")
    return text
