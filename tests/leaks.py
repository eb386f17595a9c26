"""The suite fails when a process it started outlives it.

At the start of the session pytest moves itself into a control group of its own: in the ``pids``
hierarchy of cgroup v1 where there is one, else a child of its own cgroup v2 group (today's Debian and
Ubuntu default). Every process the tests start lands there too, and stays there when it daemonizes,
starts a new session or is orphaned (a hub's proxy and services, SeaweedFS, PostgreSQL, the Slurm daemons
and their jobs). When the session ends, after every fixture's teardown, whatever is still in the group
besides pytest is listed, killed, and fails the run. Without root or a cgroup hierarchy the check is off,
and the run says so (under CI it refuses to run).
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import pytest


def hierarchies(mounts: str | None = None, own: str | None = None) -> list[tuple[str, Path, Path]]:
    """``(version, where a group may be made, the group to go back to)`` for each hierarchy that tracks
    this process: cgroup v1's ``pids`` controller (its root), cgroup v2 (this process's own group)."""
    mounts = Path("/proc/self/mounts").read_text() if mounts is None else mounts
    own = Path("/proc/self/cgroup").read_text() if own is None else own
    found = []
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        where, kind, options = Path(fields[1]), fields[2], fields[3].split(",")
        if kind == "cgroup" and "pids" in options:
            found.append(("v1", where, where))
        elif kind == "cgroup2":
            path = next((entry.split(":", 2)[2] for entry in own.splitlines() if entry.startswith("0::")), None)
            if path is not None:
                group = where / path.lstrip("/")
                found.append(("v2", group, group))
    return sorted(found, key=lambda h: h[0])  # v1's pids first where a host has both


class ProcessGroupWatch:
    def __init__(self, parent: Path, home: Path):
        self.group, self.home = parent / f"vlass-tests-{uuid.uuid4().hex[:12]}", home

    def start(self) -> None:
        self.group.mkdir()
        try:
            (self.group / "cgroup.procs").write_text(str(os.getpid()))
        except OSError:
            self.group.rmdir()
            raise

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
        (self.home / "cgroup.procs").write_text(str(os.getpid()))
        try:
            self.group.rmdir()
        except OSError:
            pass
        return left


def start_watch() -> tuple[ProcessGroupWatch | None, str]:
    """A started watch, or None and why there is none."""
    if os.geteuid() != 0:
        return None, "not root"
    if os.environ.get("VLASS_NO_LEAK_CHECK"):
        return None, "VLASS_NO_LEAK_CHECK is set"
    tried = []
    for version, parent, home in hierarchies():
        watch = ProcessGroupWatch(parent, home)
        try:
            watch.start()
            return watch, version
        except OSError as error:
            tried.append(f"cgroup {version} at {parent}: {error.strerror or error}")
    return None, "; ".join(tried) or "no cgroup hierarchy (v1 pids or v2) is mounted"


_watch: ProcessGroupWatch | None = None
_off: str | None = None


def pytest_sessionstart(session):
    global _watch, _off
    _watch, why = start_watch()
    if _watch is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            raise pytest.UsageError(f"the leak check cannot run under CI: {why}")
        _off = why


def pytest_terminal_summary(terminalreporter):
    if _off:
        terminalreporter.write_line(f"the leak check was off ({_off}): processes left behind go unnoticed",
                                    yellow=True)


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
