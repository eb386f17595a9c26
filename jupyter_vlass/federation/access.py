"""Access tiers: ``restricted`` and ``embargoed`` datasets are for the groups their source grants.

A source grants its non-public datasets with the option ``access_groups`` (comma-separated group
names, e.g. ``"vlass-team,cosmicai"``). A caller's groups are those of their hub login (JupyterHub
groups, which the authenticator fills from the identity provider's claims). Anyone else sees neither
the records nor their count: to them such a dataset does not exist.
"""

from __future__ import annotations

import json
import os
import re
import urllib.request
from collections.abc import Iterable, Mapping

from ..exceptions import InvalidArgument

ACCESS_GROUPS_OPTION = "access_groups"
GROUP_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")


def parse_groups(text: object) -> frozenset[str]:
    """Group names from an ``access_groups`` option; refuses anything but plain names."""
    if text in (None, ""):
        return frozenset()
    if not isinstance(text, str):
        raise InvalidArgument(f"{ACCESS_GROUPS_OPTION}: must be comma-separated group names")
    names = [n.strip() for n in text.split(",") if n.strip()]
    for name in names:
        if not GROUP_RE.match(name):
            raise InvalidArgument(f"{ACCESS_GROUPS_OPTION}: {name[:64]!r} is not a group name")
    return frozenset(names)


def readable_sources(options_by_source: Mapping[str, Mapping], groups: Iterable[str]) -> set[str]:
    """The sources whose non-public datasets ``groups`` may see."""
    mine = set(groups)
    return {name for name, options in options_by_source.items()
            if parse_groups(options.get(ACCESS_GROUPS_OPTION)) & mine}


def visible(source: str, tier: str, readable: set[str]) -> bool:
    """Whether a dataset of ``source`` in ``tier`` may be seen by a caller who may read ``readable``."""
    return tier == "public" or source in readable


def hub_groups(timeout: float = 5.0) -> tuple[str, ...]:
    """The groups of the hub user this process runs for (a user's server, kernel or terminal);
    empty outside a hub or when the hub cannot say."""
    api, token = os.environ.get("JUPYTERHUB_API_URL"), os.environ.get("JUPYTERHUB_API_TOKEN")
    if not api or not token:
        return ()
    request = urllib.request.Request(f"{api.rstrip('/')}/user", headers={"Authorization": f"token {token}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (the hub's own URL)
            model = json.load(response)
    except (OSError, ValueError):
        return ()
    groups = model.get("groups") if isinstance(model, dict) else None
    return tuple(g for g in groups or () if isinstance(g, str))
