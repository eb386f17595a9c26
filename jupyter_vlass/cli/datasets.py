"""``jupyter-vlass sources ...``, ``datasets ...`` and ``demo-data``: the registry from a terminal."""

from __future__ import annotations

import sys
from pathlib import Path

from ..exceptions import InvalidArgument
from .output import pairs, print_json


def _registry(args):
    from ..federation import Registry

    return Registry(args.db, use_hub_token=True)


def cmd_sources_add(args) -> int:
    doc = _registry(args).add_source(args.name, args.kind, args.uri, options=pairs(args.option, "--option"))
    print(f"added source {doc['name']} ({doc['kind']}) at {doc['uri']}")
    return 0


def cmd_sources_list(args) -> int:
    sources = _registry(args).sources()
    if args.json:
        print_json(sources)
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
    from ..reproducibility.location import capsule_store

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
        print_json([{**r.to_json(), "affected_analyses": affected.get(r.source, [])} for r in reports])
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
    from ..federation import Region

    region = Region.parse(args.region)
    sources = [s.strip() for s in args.sources.split(",") if s.strip()] if args.sources else None
    registry, limit, cursor = _registry(args), args.limit, None
    if args.page is not None:
        from ..federation.paging import DEFAULT_LIMIT, encode_cursor

        if args.page < 1:
            raise InvalidArgument("--page: 1 or more")
        limit = DEFAULT_LIMIT if limit is None else limit
        searched = sources or [s["name"] for s in registry.sources() if s["enabled"]]
        cursor = encode_cursor((args.page - 1) * limit, region, searched) if args.page > 1 else None
    result = registry.search(region, sources=sources, deadline=args.deadline, limit=limit, cursor=cursor)
    if args.json:
        print_json(result.to_json())
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
        print_json(doc)
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
    from ..sample_data import build_sample_data

    paths = build_sample_data(args.directory, full_tile=not args.small)
    if args.hips and "tile_v1" in paths:
        from ..sample_data import build_hips

        paths["hips"] = build_hips(paths["tile_v1"], Path(args.directory).resolve() / "hips" / "vlass-ql")
    if args.seed:
        from ..sample_data import seed_registry

        for report in seed_registry(_registry(args), paths):
            print(f"{report.source}: {report.status} (+{report.added} added, {report.unchanged} unchanged)",
                  file=sys.stderr)
    if args.jobs_config:
        from ..sample_data import SampleDataError, demo_jobs_config

        try:
            demo_jobs_config(Path(args.jobs_config), jobs_dir=Path(args.jobs_dir) if args.jobs_dir else None)
        except SampleDataError as error:
            raise InvalidArgument(f"--jobs-config: {error}") from None
        paths["jobs_config"] = Path(args.jobs_config).resolve()
    print_json({k: str(v) for k, v in paths.items()})
    return 0


def add_commands(sub) -> None:
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
    p.add_argument("--jobs-config", metavar="FILE", help="also write the jobs configuration the demo serves with "
                   "(as root: jobs run as vlass-demo with /opt/vlass-jobenv's Python)")
    p.add_argument("--jobs-dir", metavar="DIR", help="where the demo's jobs go (default: beside FILE; as root, "
                   "under /srv/jupyter-vlass-demo)")
    p.set_defaults(fn=cmd_demo_data)
