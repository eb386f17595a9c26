"""``jupyter-vlass`` (also ``jupyter vlass``): sources, sync, search, dataset details, analysis jobs."""

from __future__ import annotations

import argparse
import os
import json
import sys
from pathlib import Path

from . import __version__
from .cli_capsules import add_commands as add_capsule_commands
from .cli_jobs import add_commands as add_job_commands
from .cli_review import add_commands as add_review_commands
from .exceptions import InvalidArgument, VlassError
from .store import DB_ENV

EXIT_USAGE = 2


def _options(pairs: list[str]) -> dict:
    options = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise VlassError(f"--option must be KEY=VALUE, got {pair!r}", reason="invalid_argument")
        options[key] = value
    return options


def _registry(args):
    from .federation import Registry

    return Registry(args.db, use_hub_token=True)


def _print_json(doc) -> None:
    json.dump(doc, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def cmd_sources_add(args) -> int:
    doc = _registry(args).add_source(args.name, args.kind, args.uri, options=_options(args.option))
    print(f"added source {doc['name']} ({doc['kind']}) at {doc['uri']}")
    return 0


def cmd_sources_list(args) -> int:
    sources = _registry(args).sources()
    if args.json:
        _print_json(sources)
        return 0
    for s in sources:
        synced = s["synced_at"] or "never synced"
        print(f"{s['name']:<16} {s['kind']:<12} {s['datasets']:>6} datasets  {synced:<28} {s['uri']}")
    return 0


def cmd_sources_remove(args) -> int:
    _registry(args).remove_source(args.name)
    print(f"removed source {args.name}")
    return 0


def _affected_analyses(reports) -> dict[str, list[dict]]:
    """Per source: the published analyses (in this user's artifact store) its new dataset versions affect."""
    from .reproducibility.location import capsule_store

    store = capsule_store()
    return {r.source: store.affected_by_versions(r.versions) for r in reports if r.versions}


def cmd_sources_sync(args) -> int:
    registry = _registry(args)
    progress = None
    bar = None
    if not args.json and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(unit=" items", file=sys.stderr)

        def progress(done, _uri):
            bar.update(1)
    try:
        reports = registry.sync(args.name, force=args.force, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    affected = _affected_analyses(reports)
    if args.json:
        _print_json([{**r.to_json(), "affected_analyses": affected.get(r.source, [])} for r in reports])
    else:
        for r in reports:
            print(f"{r.source}: {r.status} (+{r.added} added, {r.updated} updated, {r.unchanged} unchanged, "
                  f"{r.withdrawn} withdrawn, {len(r.skipped)} skipped) in {r.elapsed_s:.2f} s"
                  + (f" — {r.message}" if r.message else ""))
            for s in r.skipped:
                print(f"  skipped {s.uri}: {s.reason}")
            for a in affected.get(r.source, []):
                print(f"  affects published analysis {a['id'][:16]} ({a['title']}): pinned to {a['pinned']}, "
                      f"now {a['new']} ({a['change']})")
    failed = [r for r in reports if r.status not in ("ok", "unchanged", "skipped")]
    return 1 if failed else 0


def cmd_datasets_search(args) -> int:
    from .federation import Region

    region = Region.parse(args.region)
    sources = [s.strip() for s in args.sources.split(",") if s.strip()] if args.sources else None
    registry, limit, cursor = _registry(args), args.limit, None
    if args.page is not None:
        from .federation.paging import DEFAULT_LIMIT, encode_cursor

        if args.page < 1:
            raise InvalidArgument("--page: 1 or more")
        limit = DEFAULT_LIMIT if limit is None else limit
        searched = sources or [s["name"] for s in registry.sources() if s["enabled"]]
        cursor = encode_cursor((args.page - 1) * limit, region, searched) if args.page > 1 else None
    result = registry.search(region, sources=sources, deadline=args.deadline, limit=limit, cursor=cursor)
    if args.json:
        _print_json(result.to_json())
        return 0
    for s in result.sources:
        print(f"# {s.name}: {s.status} ({s.count})" + (f" — {s.message}" if s.message else ""))
    for h in result.hits:
        print(f"{h.score:.3f}  {h.coverage:6.1%}  {h.dataset_id}  {h.version}  sha256:{(h.sha256 or '-')[:16]}")
    shown = f"{result.offset + 1}-{result.offset + len(result.hits)} of {result.total}" if result.total is not None \
        else str(len(result.hits))
    print(f"# {shown} dataset versions in {result.elapsed_s * 1000:.0f} ms")
    return 0


def cmd_datasets_show(args) -> int:
    doc = _registry(args).describe(args.id)
    if args.json:
        _print_json(doc)
        return 0
    print(f"{doc['id']} (latest {doc['latest']})")
    for v in doc["versions"]:
        flag = " [withdrawn]" if v["withdrawn_at"] else ""
        print(f"  {v['version']}{flag}: {v['citation']}")
        for parent in v["derived_from"]:
            print(f"    derived from {parent}")
        for child in v["derivatives"]:
            print(f"    used by {child}")
    return 0


def cmd_demo_data(args) -> int:
    from .sample_data import build_sample_data

    paths = build_sample_data(args.directory, full_tile=not args.small)
    if args.hips and "tile_v1" in paths:
        from .sample_data import build_hips

        paths["hips"] = build_hips(paths["tile_v1"], Path(args.directory).resolve() / "hips" / "vlass-ql")
    if args.seed:
        from .sample_data import seed_registry

        for report in seed_registry(_registry(args), paths):
            print(f"{report.source}: {report.status} (+{report.added} added, {report.unchanged} unchanged)",
                  file=sys.stderr)
    _print_json({k: str(v) for k, v in paths.items()})
    return 0


def _hub_sessions(args):
    from .store import make_engine, session_factory
    return session_factory(make_engine(args.db))


def cmd_allocations_grant(args) -> int:
    from .compute.ledger import Ledger
    ledger = Ledger(_hub_sessions(args), cluster="local")
    ledger.grant(args.project, args.su, by=args.by)
    _print_json(ledger.balance(args.project).to_json())
    return 0


def cmd_allocations_show(args) -> int:
    from .compute.ledger import Ledger
    _print_json(Ledger(_hub_sessions(args), cluster="local").balance(args.project).to_json())
    return 0


def cmd_approvals_list(args) -> int:
    from .compute.approvals import Approvals
    approvals = Approvals(_hub_sessions(args), threshold_gpu_hours=0)
    _print_json([a.to_json() for a in approvals.list(status=args.status)])
    return 0


def cmd_approvals_decide(args) -> int:
    from .compute.approvals import Approvals
    approvals = Approvals(_hub_sessions(args), threshold_gpu_hours=0)
    _print_json(approvals.decide(args.id, by=args.by, approve=args.action == "approve", reason=args.reason).to_json())
    return 0


def _raw_engine(args):
    """An engine that does not upgrade on its own (``db`` commands decide that)."""
    from .store import make_engine

    return make_engine(args.db, upgrade=False)


def cmd_db_upgrade(args) -> int:
    from .store.migrate import upgrade

    before, after = upgrade(_raw_engine(args), args.revision)
    print(f"database schema: {before or 'empty'} -> {after}")
    return 0


def cmd_db_current(args) -> int:
    from .store.migrate import current, head

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jupyter-vlass", description=__doc__)
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument("--db", default=None, help=f"registry database URL (default: ${DB_ENV} or a local SQLite file)")
    sub = parser.add_subparsers(dest="group", required=True)

    sources = sub.add_parser("sources", help="manage dataset sources").add_subparsers(dest="action", required=True)
    p = sources.add_parser("add", help="register a source")
    p.add_argument("name")
    p.add_argument("--kind", required=True, help="vlass, datapackage, s3manifest, posix, sia2 (or a plugin)")
    p.add_argument("--uri", required=True)
    p.add_argument("--option", action="append", metavar="KEY=VALUE", help="e.g. endpoint_url=..., hips=..., rate_limit=10/s")
    p.set_defaults(fn=cmd_sources_add)
    p = sources.add_parser("list", help="list sources")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_sources_list)
    p = sources.add_parser("remove", help="remove a source and its datasets")
    p.add_argument("name")
    p.set_defaults(fn=cmd_sources_remove)
    p = sources.add_parser("sync", help="harvest sources into the registry (incremental)")
    p.add_argument("name", nargs="?")
    p.add_argument("--force", action="store_true", help="re-read items even when the source looks unchanged")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_sources_sync)

    datasets = sub.add_parser("datasets", help="find datasets").add_subparsers(dest="action", required=True)
    p = datasets.add_parser("search", help="datasets overlapping a sky region")
    p.add_argument("--region", required=True, help="RA,DEC,RADIUS in degrees")
    p.add_argument("--sources", help="comma-separated source names (default: all)")
    p.add_argument("--deadline", type=float, default=2.0, help="seconds per source (default 2)")
    p.add_argument("--limit", type=int, help="results per page (0-1000; default: all, or 100 with --page)")
    p.add_argument("--page", type=int, help="which page of --limit results (1 = the best); exact ranking")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_datasets_search)
    p = datasets.add_parser("show", help="versions, citations and lineage of a dataset")
    p.add_argument("id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(fn=cmd_datasets_show)

    p = sub.add_parser("demo-data", help="fetch the real sample radio data and lay out demo sources")
    p.add_argument("directory")
    p.add_argument("--small", action="store_true", help="skip the full-size synthetic VLASS-like tile")
    p.add_argument("--hips", action="store_true", help="also build a HiPS survey of the tile (needs reproject)")
    p.add_argument("--seed", action="store_true", help="register the sample sources in the registry and sync")
    p.set_defaults(fn=cmd_demo_data)

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

    add_job_commands(sub)
    add_capsule_commands(sub)
    add_review_commands(sub)

    db = sub.add_parser("db", help="the database schema (migrations)").add_subparsers(dest="action", required=True)
    p = db.add_parser("upgrade", help="upgrade the schema (run after installing a new release; keeps all data)")
    p.add_argument("revision", nargs="?", default="head", help="target revision (default: the newest)")
    p.set_defaults(fn=cmd_db_upgrade)
    p = db.add_parser("current", help="the schema revision of the database (exit 1 when an upgrade is due)")
    p.set_defaults(fn=cmd_db_current)
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
