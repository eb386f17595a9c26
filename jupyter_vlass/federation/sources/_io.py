"""Small I/O helpers shared by sources: HTTP with timeouts and typed errors, local paths."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from typing import IO
from urllib.parse import urljoin, urlparse

import requests

from ...exceptions import CorruptData, InvalidSource, NotFound, SourceTimeout, SourceUnauthorized, SourceUnavailable
from ..credentials import Credentials, redact
from ...patterns import SHA256

DEFAULT_TIMEOUT = 30.0
CHUNK = 1 << 20


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

    def head(self, url: str) -> requests.Response:
        try:
            response = self.session.head(url, timeout=self.timeout, allow_redirects=True)
        except requests.RequestException as exc:
            raise SourceUnavailable(f"cannot reach {_host(url)}: {type(exc).__name__}") from None
        raise_for_status(response, url)
        return response

    @contextmanager
    def open(self, url: str) -> Iterator[IO[bytes]]:
        response = self.get(url, stream=True)
        try:
            response.raw.decode_content = True
            yield response.raw
        finally:
            response.close()


def raise_for_status(response: requests.Response, url: str) -> None:
    if response.status_code in (401, 403):
        raise SourceUnauthorized(f"{_host(url)} refused access (HTTP {response.status_code})")
    if response.status_code == 404:
        raise NotFound(f"{url} not found (HTTP 404)")
    if response.status_code >= 400:
        raise SourceUnavailable(f"{_host(url)} answered HTTP {response.status_code}")


def _host(url: str) -> str:
    return urlparse(url).netloc or url


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.links.append(href)


def list_http_directory(client: HttpClient, url: str) -> list[str]:
    """Entry names of an Apache/nginx/python autoindex page (directories end with '/')."""
    if not url.endswith("/"):
        url += "/"
    parser = _Links()
    parser.feed(client.get(url).text)
    names = []
    for href in parser.links:
        target = urljoin(url, href)
        if not target.startswith(url) or target == url:
            continue
        rest = target[len(url):]
        if rest and "?" not in rest and "#" not in rest and rest.count("/") <= 1:
            names.append(requests.utils.unquote(rest))
    return sorted(set(names))


def list_local_directory(path: str) -> list[str]:
    try:
        return sorted(e.name + ("/" if e.is_dir() else "") for e in os.scandir(path))
    except FileNotFoundError:
        raise InvalidSource(f"no such directory: {path}") from None
    except NotADirectoryError:
        raise InvalidSource(f"not a directory: {path}") from None


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
