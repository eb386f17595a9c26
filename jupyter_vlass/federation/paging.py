"""Pages of ranked search results: ``limit``, an opaque ``cursor`` and the ``total``.

A page is cut from the full ranking, so page after page is exactly the full list (``tests/federation/
test_paging.py``). Every match is found and measured (that is the total); only the page's hits are built
(``ranking.rank_page``). Reading only the candidates that could reach a page was built and measured first
(commit 74ec1ef and the one before it: each candidate's score bounded from its footprint's circle, the most
promising measured first). At 10^6 footprints it was slower than ranking everything (1° cone, first page p50
14.6 ms against 8.7 ms): a circle's area bounds a footprint's coverage too loosely to prune a uniform survey.
It needs a tight bound, the footprint's own area stored when it is indexed.
"""

from __future__ import annotations

import base64
import hashlib
import json

from ..exceptions import InvalidArgument
from .region import Region

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def _search_key(region: Region, sources) -> str:
    return hashlib.sha256(f"{region}|{','.join(sorted(sources or []))}".encode()).hexdigest()[:16]


def encode_cursor(offset: int, region: Region, sources) -> str:
    doc = json.dumps({"o": offset, "k": _search_key(region, sources)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(doc.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, region: Region, sources) -> int:
    """The offset a cursor of this search points at (0 for none); a cursor of another search is refused."""
    if cursor is None:
        return 0
    try:
        doc = json.loads(base64.urlsafe_b64decode(str(cursor) + "=" * (-len(str(cursor)) % 4)))
        offset, key = int(doc["o"]), doc["k"]
    except (ValueError, TypeError, KeyError):
        raise InvalidArgument("cursor: not a cursor this search gave") from None
    if key != _search_key(region, sources) or not 0 <= offset < 10**9:
        raise InvalidArgument("cursor: it belongs to another search (region or sources differ)")
    return offset


def check_limit(limit) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= MAX_LIMIT:
        raise InvalidArgument(f"limit: a whole number from 0 to {MAX_LIMIT}")
    return limit
