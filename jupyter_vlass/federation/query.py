"""Concurrent fan-out with a deadline: a slow or failing source becomes a status, not a crash."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor, wait
from dataclasses import dataclass

from ..exceptions import RateLimited, SourceTimeout, SourceUnauthorized, VlassError
from .results import SourceStatus

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    status: SourceStatus
    value: object = None


def outcome_of(exc: BaseException) -> str:
    """The one map from an error to a source's outcome (``timeout``, ``rate_limited``, ``unauthorized``, ``error``)."""
    if isinstance(exc, SourceTimeout):
        return "timeout"
    if isinstance(exc, RateLimited):
        return "rate_limited"
    if isinstance(exc, SourceUnauthorized):
        return "unauthorized"
    return "error"


def status_for(name: str, exc: BaseException, elapsed: float) -> SourceStatus:
    """A failed source as data: its outcome, the error's message and (rate limits) when to retry."""
    if not isinstance(exc, VlassError):
        log.exception("source %s failed", name, exc_info=exc)
        return SourceStatus(name, "error", elapsed, message=f"internal error ({type(exc).__name__})")
    return SourceStatus(name, outcome_of(exc), elapsed, message=exc.message,
                        retry_after=exc.retry_after if isinstance(exc, RateLimited) else None)


def fan_out(tasks: dict[str, Callable[[], object]], deadline_s: float, executor: Executor) -> dict[str, Outcome]:
    """Run every task concurrently on ``executor``; whatever has not finished after ``deadline_s`` is a timeout."""
    started = time.perf_counter()
    futures = {name: executor.submit(_timed, fn) for name, fn in tasks.items()}
    wait(futures.values(), timeout=deadline_s)
    outcomes = {}
    for name, future in futures.items():
        if not future.done():
            future.cancel()
            elapsed = time.perf_counter() - started
            outcomes[name] = Outcome(SourceStatus(name, "timeout", elapsed,
                                                  message=f"no answer within the {deadline_s:g} s deadline"))
            continue
        elapsed, value, exc = future.result()
        if exc is not None:
            outcomes[name] = Outcome(status_for(name, exc, elapsed))
        else:
            outcomes[name] = Outcome(SourceStatus(name, "ok", elapsed), value)
    return outcomes


def run_inline(fn, name: str = "index") -> Outcome:
    """Run one task in the caller's thread, with the same error-to-status mapping as fan_out."""
    elapsed, value, exc = _timed(fn)
    return Outcome(status_for(name, exc, elapsed)) if exc is not None else Outcome(SourceStatus(name, "ok", elapsed), value)


def _timed(fn):
    started = time.perf_counter()
    try:
        value = fn()
    except Exception as exc:  # reported as the source's status by fan_out
        return time.perf_counter() - started, None, exc
    return time.perf_counter() - started, value, None
