"""The hub service's search quota in its database: one bucket per user for every process, exact under
concurrency, on SQLite and the real PostgreSQL."""

from __future__ import annotations

import threading

import pytest

from jupyter_vlass.exceptions import RateLimited
from jupyter_vlass.federation.shared_quota import SharedQuota
from jupyter_vlass.store import make_engine, session_factory


class SteppedClock:
    """Seconds since the epoch that move only when told."""

    def __init__(self, now: float = 1_800_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_bucket_per_user_refills_at_its_rate(tmp_path):
    sessions = session_factory(make_engine(f"sqlite:///{tmp_path / 'service.sqlite'}"))
    clock = SteppedClock()
    quota = SharedQuota(sessions, "3/h", clock=clock)
    for _ in range(3):
        quota.check_user("frank")
    with pytest.raises(RateLimited) as refused:
        quota.check_user("frank")
    assert 1199 < refused.value.retry_after <= 1200  # one search every 20 minutes
    quota.check_user("gina")  # her own bucket
    clock.now += 1200
    quota.check_user("frank")  # one came back
    with pytest.raises(RateLimited):
        quota.check_user("frank")
    clock.now += 10 * 3600
    for _ in range(3):  # full again, never above the burst
        quota.check_user("frank")
    with pytest.raises(RateLimited):
        quota.check_user("frank")
    # Another process on the same database (its own engine) draws from the same bucket.
    other = SharedQuota(session_factory(make_engine(f"sqlite:///{tmp_path / 'service.sqlite'}")), "3/h", clock=clock)
    with pytest.raises(RateLimited):
        other.check_user("frank")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_racing_processes_take_exactly_the_quota(tmp_path, backend, request):
    url = f"sqlite:///{tmp_path / 'service.sqlite'}" if backend == "sqlite" else request.getfixturevalue("postgres_url")
    make_engine(url).dispose()
    clock = SteppedClock()
    quotas = [SharedQuota(session_factory(make_engine(url)), "20/h", clock=clock) for _ in range(4)]  # 4 "processes"
    taken, refused = [], []
    start = threading.Barrier(8)

    def search(quota):
        start.wait()
        for _ in range(10):
            try:
                quota.check_user("frank")
                taken.append(1)
            except RateLimited:
                refused.append(1)
    threads = [threading.Thread(target=search, args=(quotas[k % 4],)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (len(taken), len(refused)) == (20, 60)
