"""The patterns every user-supplied name is checked against, in one place."""

from __future__ import annotations

import re

SHA256 = re.compile(r"^[0-9a-f]{64}$")
"""A lower-case hex SHA-256 digest."""

PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
"""A name that is safe in a batch script and a path: Slurm partitions, job names, projects, accounts."""

UNIX_ACCOUNT = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
"""A portable POSIX user name (what ``useradd`` accepts by default)."""
