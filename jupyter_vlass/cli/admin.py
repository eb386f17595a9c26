"""``jupyter-vlass allocations ...``, ``approvals ...`` and ``db ...``: the hub's admins from a terminal
(with ``--db`` of the hub)."""

from __future__ import annotations

import argparse
import os

from .output import print_json


def _hub_sessions(args):
    from ..store import make_engine, session_factory
    return session_factory(make_engine(args.db))


def cmd_allocations_grant(args) -> int:
    from ..compute.ledger import Ledger
    ledger = Ledger(_hub_sessions(args), cluster="local")
    ledger.grant(args.project, args.su, by=args.by)
    print_json(ledger.balance(args.project).to_json())
    return 0


def cmd_allocations_show(args) -> int:
    from ..compute.ledger import Ledger
    print_json(Ledger(_hub_sessions(args), cluster="local").balance(args.project).to_json())
    return 0


def cmd_approvals_list(args) -> int:
    from ..compute.approvals import Approvals
    approvals = Approvals(_hub_sessions(args), threshold_gpu_hours=0)
    print_json([a.to_json() for a in approvals.list(status=args.status)])
    return 0


def cmd_approvals_decide(args) -> int:
    from ..compute.approvals import Approvals
    approvals = Approvals(_hub_sessions(args), threshold_gpu_hours=0)
    print_json(approvals.decide(args.id, by=args.by, approve=args.action == "approve", reason=args.reason).to_json())
    return 0


def _raw_engine(args):
    """An engine that does not upgrade on its own (``db`` commands decide that)."""
    from ..store import make_engine

    return make_engine(args.db, upgrade=False)


def cmd_db_upgrade(args) -> int:
    from ..store.migrate import upgrade

    before, after = upgrade(_raw_engine(args), args.revision)
    print(f"database schema: {before or 'empty'} -> {after}")
    return 0


def cmd_db_current(args) -> int:
    from ..store.migrate import current, head

    revision = current(_raw_engine(args))
    newest = head()
    print(f"database schema: {revision or 'empty'} (this release: {newest})")
    return 0 if revision == newest else 1


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def add_commands(sub) -> None:
    allocations = sub.add_parser("allocations", help="service-unit allocations of the hub (with --db of the hub)")
    allocations = allocations.add_subparsers(dest="action", required=True)
    p = allocations.add_parser("grant", help="set a project's allocation")
    p.add_argument("project")
    p.add_argument("su", type=_non_negative, help="service units (node-hours x partition charge rate)")
    p.add_argument("--by", default=os.environ.get("USER", "admin"), help="who grants it (recorded)")
    p.set_defaults(fn=cmd_allocations_grant)
    p = allocations.add_parser("show", help="a project's balance")
    p.add_argument("project")
    p.set_defaults(fn=cmd_allocations_show)

    approvals = sub.add_parser("approvals", help="large compute requests awaiting an admin")
    approvals = approvals.add_subparsers(dest="action", required=True)
    p = approvals.add_parser("list", help="approval requests")
    p.add_argument("--status", choices=["pending", "approved", "denied"])
    p.set_defaults(fn=cmd_approvals_list)
    for action in ("approve", "deny"):
        p = approvals.add_parser(action, help=f"{action} a request")
        p.add_argument("id", type=int)
        p.add_argument("--reason", default="")
        p.add_argument("--by", default=os.environ.get("USER", "admin"))
        p.set_defaults(fn=cmd_approvals_decide)

    db = sub.add_parser("db", help="the database schema (migrations)").add_subparsers(dest="action", required=True)
    p = db.add_parser("upgrade", help="upgrade the schema (run after installing a new release; keeps all data)")
    p.add_argument("revision", nargs="?", default="head", help="target revision (default: the newest)")
    p.set_defaults(fn=cmd_db_upgrade)
    p = db.add_parser("current", help="the schema revision of the database (exit 1 when an upgrade is due)")
    p.set_defaults(fn=cmd_db_current)
