"""The suite fails when a process it started outlives it.

At the start of the session pytest moves itself into a control group of its own (the ``pids``
controller); every process the tests start lands there too, and stays there when it daemonizes,
starts a new session or is orphaned (a hub's proxy and services, SeaweedFS, PostgreSQL, the Slurm
daemons and their jobs). When the session ends, after every fixture's teardown, whatever is still in
the group besides pytest is listed, killed, and fails the run.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import pytest

PIDS_ROOT = Path("/sys/fs/cgroup/pids")


class ProcessGroupWatch:
    def __init__(self):
        self.group = PIDS_ROOT / f"vlass-tests-{uuid.uuid4().hex[:12]}"

    def start(self) -> None:
        self.group.mkdir()
        (self.group / "cgroup.procs").write_text(str(os.getpid()))

    def survivors(self) -> list[tuple[int, str]]:
        found = []
        for line in (self.group / "cgroup.procs").read_text().split():
            pid = int(line)
            if pid == os.getpid():
                continue
            try:
                state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
                command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if state != "Z":
                found.append((pid, command.strip()[:200]))
        return found

    def finish(self) -> list[tuple[int, str]]:
        left = self.survivors()
        for pid, _ in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.survivors():
            time.sleep(0.1)
        (PIDS_ROOT / "cgroup.procs").write_text(str(os.getpid()))
        try:
            self.group.rmdir()
        except OSError:
            pass
        return left


_watch: ProcessGroupWatch | None = None


def pytest_sessionstart(session):
    global _watch
    if os.geteuid() != 0 or not PIDS_ROOT.is_dir() or os.environ.get("VLASS_NO_LEAK_CHECK"):
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            raise pytest.UsageError("the leak check needs root and the cgroup pids controller under CI")
        return
    _watch = ProcessGroupWatch()
    _watch.start()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    if _watch is None:
        return
    left = _watch.finish()
    if left:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        lines = "\n".join(f"  pid {pid}: {command}" for pid, command in left)
        message = f"processes started by the tests outlived them (killed now):\n{lines}"
        if reporter:
            reporter.write_line(message, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED

