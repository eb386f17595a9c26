"""The parser of ``jupyter-vlass``: one subcommand family per module of this package, errors as exit 2."""

from __future__ import annotations

import argparse
import sys

from ..exceptions import VlassError
from ..store import DB_ENV
from ..version import __version__
from . import admin, capsules, datasets, jobs, review

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jupyter-vlass", description=__doc__)
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument("--db", default=None, help=f"registry database URL (default: ${DB_ENV} or a local SQLite file)")
    sub = parser.add_subparsers(dest="group", required=True)
    for family in (datasets, admin, jobs, capsules, review):
        family.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.fn(args)
    except VlassError as exc:
        print(f"jupyter-vlass: error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
