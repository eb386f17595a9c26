"""The patterns every user-supplied name is checked against, in one place."""

from __future__ import annotations

import re

SHA256 = re.compile(r"^[0-9a-f]{64}$")
"""A lower-case hex SHA-256 digest."""

PLAIN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
"""A name that is safe in a batch script and a path: Slurm partitions, job names, projects, accounts."""

UNIX_ACCOUNT = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
"""A portable POSIX user name (what ``useradd`` accepts by default)."""

ORCID = re.compile(r"^(?:https://orcid\.org/)?(\d{4}-\d{4}-\d{4}-\d{3}[\dX])$")
"""An ORCID iD, bare or as its https://orcid.org/ URL (:func:`orcid_url` checks its check digit too)."""


def orcid_url(text: object) -> str | None:
    """``text`` as the ORCID iD's URL when it is one (ISO 7064 11,2 check digit right), else None."""
    found = ORCID.match(text.strip()) if isinstance(text, str) else None
    if found is None:
        return None
    digits = found.group(1).replace("-", "")
    total = 0
    for digit in digits[:-1]:
        total = (total + int(digit)) * 2
    check = (12 - total % 11) % 11
    return f"https://orcid.org/{found.group(1)}" if digits[-1] == ("X" if check == 10 else str(check)) else None
