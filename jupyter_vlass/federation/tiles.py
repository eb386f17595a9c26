"""A disk cache in front of a source's HiPS survey (remote URL or local directory)."""

from __future__ import annotations

import os
import re
import shutil
import tempfile

from ..exceptions import InvalidArgument, NotFound, UnknownSource
from .credentials import origin, trusted_origins
from .sources._io import HttpClient, is_http

PATH_RE = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")


class TileCache:
    def __init__(self, cache_dir: str):
        self.cache_dir = cache_dir

    def fetch(self, source_name: str, hips_base: str | None, path: str, credentials=None) -> str:
        """Local path of ``path`` under the source's HiPS (downloaded once, then served from disk)."""
        if not hips_base:
            raise UnknownSource(f"source {source_name!r} has no HiPS survey (option 'hips')")
        if not PATH_RE.match(path) or ".." in path.split("/"):
            raise InvalidArgument(f"bad HiPS path {path!r}")
        if not is_http(hips_base):
            local = os.path.join(hips_base, path)
            if not os.path.isfile(local):
                raise NotFound(f"no HiPS file {path!r}")
            return local
        target = os.path.join(self.cache_dir, "hips", source_name, path)
        if os.path.isfile(target):
            return target
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if credentials is not None and credentials.hub_token and origin(hips_base) not in trusted_origins():
            credentials = credentials.for_returned_urls()  # the survey is elsewhere than the source itself
        response = HttpClient(credentials, timeout=15).get(f"{hips_base.rstrip('/')}/{path}", stream=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target))
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(response.raw, out)
        os.replace(tmp, target)  # atomic: a reader never sees half a tile
        return target
