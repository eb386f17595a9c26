"""Token buckets: per-source rate limits and per-user query quotas."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

from ..exceptions import InvalidArgument, InvalidSource, RateLimited

_UNITS = {"s": 1.0, "sec": 1.0, "min": 60.0, "m": 60.0, "h": 3600.0, "hour": 3600.0, "d": 86400.0, "day": 86400.0}


def parse_rate(text: str) -> float:
    """``"10/s"``, ``"100/min"``, ``"1000/h"`` -> tokens per second."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*/\s*([a-z]+)\s*", str(text))
    if not match or match[2] not in _UNITS or float(match[1]) <= 0:
        raise InvalidArgument(f"rate must look like '10/s', '100/min' or '1000/h', got {text!r}")
    return float(match[1]) / _UNITS[match[2]]


class TokenBucket:
    """``rate`` tokens per second, holding at most ``capacity``. Thread-safe."""

    def __init__(self, rate: float, capacity: float, *, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.capacity = capacity
        self._tokens = capacity
        self._clock = clock
        self._stamp = clock()
        self._lock = threading.Lock()

    def take(self, what: str, tokens: float = 1.0) -> None:
        """Take ``tokens`` or raise :class:`RateLimited` with the wait until they are available."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= tokens:
                self._tokens -= tokens
                return
            retry_after = (tokens - self._tokens) / self.rate
        raise RateLimited(f"{what}: rate limit reached, retry in {retry_after:.1f} s", retry_after=retry_after)


class Limits:
    """The buckets of one registry: one per rate-limited source, one per user with a quota."""

    def __init__(self, *, user_quota: str | None = None, shared: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        """``shared``: takes a search from a quota held elsewhere (the hub service's, for all the user's
        servers), raising :class:`RateLimited`; it replaces the per-process quota."""
        self._clock, self._shared = clock, shared
        self._user_rate = parse_rate(user_quota) if user_quota else None
        self._user_capacity = max(1.0, self._user_rate * 3600) if self._user_rate else 0.0
        self._sources: dict[tuple[str, float, float], TokenBucket] = {}
        self._users: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def check_source(self, name: str, options: dict) -> None:
        spec = options.get("rate_limit")
        if not spec:
            return
        rate = parse_rate(spec)
        try:  # typed when the source was added; a row of an older release may hold text
            burst = float(options.get("burst", max(1.0, rate)))
        except (TypeError, ValueError):
            raise InvalidSource(f"source {name!r}: option burst must be a number above 0") from None
        with self._lock:
            bucket = self._sources.setdefault((name, rate, burst), TokenBucket(rate, burst, clock=self._clock))
        bucket.take(f"source {name!r}")

    def check_user(self, user: str | None) -> None:
        if self._shared is not None and user:
            return self._shared(user)
        if not self._user_rate or not user:
            return
        with self._lock:
            bucket = self._users.setdefault(user, TokenBucket(self._user_rate, self._user_capacity, clock=self._clock))
        bucket.take(f"user {user!r} query quota")


class PerUser:
    """One bucket per user, ``rate`` (such as ``"5/s"``) holding ten seconds' worth of requests (at least one, at
    most ``burst``), in this process's memory (as JupyterHub's own rate limits: a restart refills them)."""

    def __init__(self, rate: str, *, burst: int = 50, clock: Callable[[], float] = time.monotonic):
        self.rate, self._clock = parse_rate(rate), clock
        self.burst = max(1.0, min(float(burst), self.rate * 10))
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def take(self, user: str, what: str) -> None:
        """One request of ``user``'s, or :class:`RateLimited` with the wait."""
        with self._lock:
            bucket = self._buckets.setdefault(user, TokenBucket(self.rate, self.burst, clock=self._clock))
        bucket.take(f"{what} for user {user!r}")
