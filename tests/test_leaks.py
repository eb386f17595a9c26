"""The leak check itself (tests/leaks.py): on each cgroup hierarchy this host has (v1's pids controller, and
v2, the default of today's Debian and Ubuntu), a daemon that outlives its starter is found and killed, and a
clean run finds nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.leaks import hierarchies

REPO = Path(__file__).resolve().parent.parent
PROBE = """
import json, subprocess, sys, time
sys.path.insert(0, {repo!r})
from tests.leaks import ProcessGroupWatch, hierarchies
version, leave = sys.argv[1], sys.argv[2] == "leave"
_, parent, home = next(h for h in hierarchies() if h[0] == version)
watch = ProcessGroupWatch(parent, home)
watch.start()
if leave:  # orphaned in a session of its own, as a daemon is
    subprocess.run(["setsid", "--fork", "sleep", "300"], check=True)
else:
    subprocess.run(["sleep", "0.1"], check=True)
time.sleep(0.5)
left = watch.finish()
print(json.dumps({{"left": left, "group": str(watch.group), "gone": not watch.group.exists()}}))
"""
AVAILABLE = sorted({h[0] for h in hierarchies()})


def test_this_host_has_a_hierarchy_to_watch():
    assert AVAILABLE, "neither cgroup v1's pids controller nor cgroup v2 is mounted"


def test_mount_tables_of_both_kinds_are_read():
    v2_only = "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime 0 0\n"
    assert hierarchies(v2_only, "0::/user.slice/session-3.scope\n") == [
        ("v2", Path("/sys/fs/cgroup/user.slice/session-3.scope"), Path("/sys/fs/cgroup/user.slice/session-3.scope"))]
    v1 = "cgroup /sys/fs/cgroup/pids cgroup rw,relatime,pids 0 0\ncgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n"
    assert [h[0] for h in hierarchies(v1, "8:pids:/\n0::/\n")] == ["v1", "v2"]


@pytest.mark.parametrize("version", AVAILABLE)
def test_a_daemon_left_behind_is_found_and_killed(version):
    """Moving processes between control groups needs root, as the leak check does."""
    def probe(mode: str) -> dict:
        done = subprocess.run([sys.executable, "-c", PROBE.format(repo=str(REPO)), version, mode],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    clean = probe("clean")  # the positive control: nothing is left, nothing reported
    assert clean["left"] == [] and clean["gone"]
    leaky = probe("leave")
    assert [command for _, command in leaky["left"]] == ["sleep 300"], leaky
    pid = leaky["left"][0][0]
    assert not Path(f"/proc/{pid}").exists() or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    assert leaky["gone"], "the group is removed"
