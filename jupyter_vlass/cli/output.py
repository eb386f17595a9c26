"""What every command family shares: the JSON printer and ``KEY=VALUE`` pairs."""

from __future__ import annotations

import json
import sys

from ..exceptions import InvalidArgument


def print_json(doc) -> None:
    """``doc`` as indented JSON on standard output (dates and paths as strings)."""
    json.dump(doc, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def pairs(items: list[str] | None, what: str) -> dict[str, str]:
    """``["a=1", "b=2"]`` as ``{"a": "1", "b": "2"}``; anything else is refused naming ``what``."""
    found = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidArgument(f"{what}: expected KEY=VALUE, got {item[:60]!r}")
        found[key] = value
    return found


def emit(args, doc, text: object) -> None:
    """``doc`` as JSON with ``--json``, else ``text`` for a person."""
    if getattr(args, "json", False):
        print_json(doc)
    else:
        print(text)
