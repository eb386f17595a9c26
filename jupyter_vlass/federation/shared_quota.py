"""Per-user search quotas held in a database: every process of the hub service draws from one bucket per user,
with one atomic statement per search (no lock held between processes)."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import case, select, update

from ..exceptions import RateLimited
from ..store import SearchQuotaRow, write
from .limits import parse_rate


class SharedQuota:
    """``rate`` (such as ``"600/h"``) searches per user, an hour's worth as the burst (as :class:`~.limits.Limits`
    gives one process), for every process on the database of ``sessions``."""

    def __init__(self, sessions, rate: str, *, clock: Callable[[], float] = time.time):
        self._sessions, self._clock = sessions, clock
        self.rate = parse_rate(rate)
        self.capacity = max(1.0, self.rate * 3600)

    def check_user(self, user: str | None) -> None:
        """Take one search from ``user``'s bucket, or raise :class:`RateLimited` with the wait."""
        if not user:
            return
        wait = write(self._sessions, lambda session: self._take(session, user))
        if wait is not None:
            raise RateLimited(f"user {user!r} query quota: rate limit reached, retry in {wait:.1f} s",
                              retry_after=wait)

    def _take(self, session, user: str) -> float | None:
        """None when a search was taken; else the seconds until one is there."""
        now = self._clock()
        refilled = SearchQuotaRow.tokens + (now - SearchQuotaRow.stamp) * self.rate
        refilled = case((refilled > self.capacity, self.capacity), else_=refilled)
        taken = session.execute(update(SearchQuotaRow).where(SearchQuotaRow.user == user, refilled >= 1.0)
                                .values(tokens=refilled - 1.0, stamp=now))
        if taken.rowcount == 1:
            return None
        row = session.execute(select(SearchQuotaRow.tokens, SearchQuotaRow.stamp)
                              .where(SearchQuotaRow.user == user)).one_or_none()
        if row is None:  # the user's first search: a full bucket less this one (a racing insert: tried again)
            session.add(SearchQuotaRow(user=user, tokens=self.capacity - 1.0, stamp=now))
            session.flush()
            return None
        left = min(self.capacity, row.tokens + (now - row.stamp) * self.rate)
        return (1.0 - left) / self.rate
