"""Reproducibility from a terminal: ``jupyter-vlass publish|verify|replay|fork|diff``, ``analyses
list|show|manifest|leaderboard|affected``, ``provenance export`` and ``keys list|rotate``.

The artifact store is ``--store`` (a directory or ``s3://bucket/prefix``; default ``$JUPYTER_VLASS_CAPSULES``, else
``$XDG_DATA_HOME/jupyter-vlass/capsules``); the site's keys ``--keys`` (default ``$JUPYTER_VLASS_KEYS``,
else ``$XDG_DATA_HOME/jupyter-vlass/keys``; ``$XDG_DATA_HOME`` defaults to ``~/.local/share``); under a
hub without ``--keys``, the hub service signs and its public keys verify. A CAPSULE is a capsule directory or the id of one in the store.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..exceptions import InvalidArgument, VlassError
from ..jobs.config import open_jobs
from ..reproducibility.location import capsule_store, public_keys, signer
from .output import emit, pairs, print_json


def _keyring(args):
    return public_keys(args.keys)


def _store(args):
    return capsule_store(args.store)


def _capsule(args, text: str) -> Path:
    path = Path(text)
    return path if path.is_dir() else _store(args).path(text)


def _jobs(args):
    return open_jobs(config=args.config, db=args.db, root=args.root)


def _value(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _wait(job, args):
    status = job.status()
    while args.wait and status["state"] not in ("done", "failed", "cancelled"):
        job.wait(timeout=24 * 3600, interval=1.0)
        status = job.status()
    return status


def _computing_run(jobs, job):
    """What is published of a job answered from the cache: the run of yours that computed the result, or,
    when another user's run did, the same analysis computed again for you (a capsule records a run)."""
    if not job.status()["cached_from"]:
        return job
    origin = jobs.computed_by(job.id)
    if origin is not None:
        print(f"answered from the cache: publishing job {origin.id}, which computed it", file=sys.stderr)
        return origin
    again = jobs.submit({**jobs.row(job.id).manifest, "recompute": True})
    print(f"answered from another user's run: computing it again as job {again.id}", file=sys.stderr)
    return again.wait(timeout=24 * 3600)


def cmd_publish(args) -> int:
    from ..analysis import manifest_for
    from ..reproducibility.capsule import publish

    jobs = _jobs(args)
    if args.job:
        job = jobs.get(args.job)
    else:
        if not args.notebook:
            raise InvalidArgument("publish: name a NOTEBOOK (or --job ID of a finished job)")
        parameters = {name: _value(value) for name, value in args.parameter or []}
        doc = manifest_for(args.notebook, root=jobs.root, registry=jobs.registry, parameters=parameters,
                           inputs=args.input or [], site=args.site, profile=args.profile)
        job = jobs.submit(doc)
        print(f"job {job.id} on the {args.site} site", file=sys.stderr)
        job.wait(timeout=24 * 3600)
    job = _computing_run(jobs, job)
    from ..review.review import review

    capsule = publish(job, store=_store(args), signer=signer(args.keys), gate=review(jobs.registry.Session))
    if args.json:
        print_json(capsule.to_json())
    elif capsule.status == "failed":
        print(f"the run failed ({job.status().get('reason') or 'no reason given'}); recorded as a failed run: "
              f"{capsule.path}  (key {capsule.key_id[:16]})", file=sys.stderr)
    else:
        print(f"{'published' if capsule.new else 'already published'}: {capsule.path}  (key {capsule.key_id[:16]})")
    return 0 if capsule.status == "completed" else 1


def cmd_verify(args) -> int:
    from ..reproducibility.capsule import verify

    result = verify(_capsule(args, args.capsule), keyring=_keyring(args))
    emit(args, result, f"verified: {result['files']} files, signed by key {result['key_id'][:16]}")
    return 0


def cmd_replay(args) -> int:
    from ..reproducibility.replay import compatibility, resubmit

    path = _capsule(args, args.capsule)
    datasets = pairs(getattr(args, "dataset", None), "--dataset")
    parameters = {name: _value(value) for name, value in getattr(args, "parameter", None) or []}
    jobs = _jobs(args)
    if getattr(args, "dry_run", False):
        report, _ = compatibility(path, jobs.registry, datasets=datasets, parameters=parameters)
        emit(args, report.to_json(), report)
        return 0 if not report.breaking else 2
    job, report = resubmit(path, jobs, keyring=_keyring(args), datasets=datasets, parameters=parameters,
                           site=args.site, force=getattr(args, "force", False))
    print(report, file=sys.stderr)
    status = _wait(job, args)
    emit(args, status, f"job {job.id}: {status['state']} {status.get('reason') or ''}")
    return 0 if status["state"] in ("done", "queued", "running", "staging") else 1


def cmd_diff(args) -> int:
    from ..reproducibility.diff import diff

    original, replay = _capsule(args, args.original), _capsule(args, args.replay)
    result = diff(original, replay, sigma=args.sigma)
    if args.figure:
        from ..reproducibility.diff import figure

        figure(result, original, replay).savefig(args.figure, dpi=100)
    emit(args, result.to_json(), result)
    return 0


def cmd_analyses(args) -> int:
    store = _store(args)
    if args.action == "list":
        doc = store.list()
        if not args.json:
            for a in doc:
                print(f"{a['id'][:16]}  {a['published'] or '':<20} {a['owner']:<12} {a['title']}"
                      + (f"  (from {a['parent'][:16]})" if a["parent"] else ""))
            return 0
    elif args.action == "show":
        doc = store.show(args.id)
    elif args.action == "manifest":
        doc = store.datacite(args.id)
    elif args.action == "leaderboard":
        doc = store.leaderboard()
    else:
        doc = store.affected_by(args.dataset, args.version)
    print_json(doc)
    return 0


def cmd_provenance(args) -> int:
    """The chain of capsules (ids in the store, or capsule folders side by side) as PROV or DataCite records, to
    stdout or ``-o``."""
    from ..reproducibility.chain import Origins
    from ..reproducibility.provenance import export, select
    from ..reproducibility.store import CapsuleStore, UnknownAnalysis
    from ..review.review import review

    criteria = {"dataset": args.dataset, "since": args.since, "until": args.until, "award": args.award}
    if not args.capsule and not (args.author or any(criteria.values())):
        raise InvalidArgument("give capsules, or a report's --dataset, --since, --until, --author or --award")
    folders = [Path(c) for c in args.capsule if Path(c).is_dir()]
    if folders and (len(folders) != len(args.capsule) or len({f.resolve().parent for f in folders}) != 1):
        raise InvalidArgument("give capsule ids, or capsule folders of one store folder, not both")
    store = CapsuleStore(folders[0].resolve().parent) if folders else _store(args)
    ids = [f.resolve().name for f in folders] or list(args.capsule) or \
        select(store.list(), authors=args.author or (), **criteria)
    if not ids:
        raise UnknownAnalysis("no published analysis matches the report's criteria")
    text = export(store, ids, args.format, marks=review().marks, origins=Origins(_registry_or_none(args)),
                  about=_about(args))
    data = text if isinstance(text, bytes) else text.encode()
    if args.output is None:
        if isinstance(text, bytes):
            raise InvalidArgument("--format crate is a zip: give -o PATH")
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return 0
    target = Path(args.output)
    partial = target.with_name(f".{target.name}.partial")
    partial.write_bytes(data)
    partial.replace(target)  # whole or not at all
    print(f"wrote {target} ({args.format}, {len(data)} bytes)")
    return 0


def _registry_or_none(args):
    """The registry whose lineage an export follows: this machine's (a hub user's server asks the hub's)."""
    from ..federation import Registry

    try:
        return Registry(args.db, use_hub_token=True)
    except VlassError:
        return None


def _about(args) -> str:
    """What a report covers, in words, for its summary."""
    parts = [f"{label} {value}" for label, value in (("reading", args.dataset), ("from", args.since), ("until", args.until),
                                                    ("under award", args.award)) if value]
    parts += [f"by {', '.join(args.author)}"] if args.author else []
    return ("Every published analysis " + " ".join(parts)) if parts else ""


def cmd_keys(args) -> int:
    keyring = _keyring(args)
    if args.action == "rotate":
        print(keyring.rotate())
        return 0
    keys = [k.to_json() for k in keyring.public_keys()]
    if args.json:
        print_json(keys)
        return 0
    for key in keys:
        print(f"{key['key_id']}  created {key['created']}{'  retired ' + key['retired'] if key['retired'] else ''}")
    return 0


def add_commands(sub) -> None:
    def command(parent, name, help_, fn, *, jobs=False):
        p = parent.add_parser(name, help=help_)
        p.add_argument("--store", help="the artifact store (a directory or s3://bucket/prefix)")
        p.add_argument("--keys", help="the site's keyring folder")
        p.add_argument("--json", action="store_true")
        if jobs:
            p.add_argument("--config", help="the jobs config (as for `jobs`)")
            p.add_argument("--root", default=".", help="your notebook directory")
        p.set_defaults(fn=fn)
        return p

    p = command(sub, "publish", "run a notebook as a job and publish it as a signed capsule", cmd_publish, jobs=True)
    p.add_argument("notebook", nargs="?", help="relative to --root")
    p.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"))
    p.add_argument("--input", action="append", metavar="ID@VERSION")
    p.add_argument("--site", default="local")
    p.add_argument("--profile")
    p.add_argument("--job", help="publish this finished job instead of running the notebook")
    p = command(sub, "verify", "check a capsule's files and signature against this site's keys", cmd_verify)
    p.add_argument("capsule")
    for name, help_ in (("replay", "run a capsule again on a site of the same kind"),
                        ("fork", "run a capsule with other dataset versions or parameters (report first)")):
        p = command(sub, name, help_, cmd_replay, jobs=True)
        p.add_argument("capsule")
        p.add_argument("--site")
        p.add_argument("--wait", action="store_true")
        if name == "fork":
            p.add_argument("-p", "--parameter", nargs=2, action="append", metavar=("NAME", "VALUE"))
            p.add_argument("--dataset", action="append", metavar="ID=ID@VERSION")
            p.add_argument("--force", action="store_true", help="run despite breaking changes")
            p.add_argument("--dry-run", action="store_true", help="only the compatibility report")
    p = command(sub, "diff", "what changed between a capsule and its replay or fork", cmd_diff)
    p.add_argument("original")
    p.add_argument("replay")
    p.add_argument("--sigma", type=float, default=3.0)
    p.add_argument("--figure", metavar="PNG", help="also draw the diff (sources kept, new, lost; image differences)")
    analyses = sub.add_parser("analyses", help="published analyses").add_subparsers(dest="action", required=True)
    command(analyses, "list", "the store's capsules, newest first", cmd_analyses)
    for name in ("show", "manifest"):
        command(analyses, name, f"one analysis ({name})", cmd_analyses).add_argument("id")
    command(analyses, "leaderboard", "the most reproduced analyses", cmd_analyses)
    p = command(analyses, "affected", "analyses pinned to other versions of a dataset", cmd_analyses)
    p.add_argument("dataset")
    p.add_argument("version")
    provenance = sub.add_parser("provenance", help="provenance of published analyses").add_subparsers(
        dest="action", required=True)
    p = command(provenance, "export", "the W3C PROV chain of capsules and everything they derive from", cmd_provenance)
    p.add_argument("capsule", nargs="*", help="capsule ids, or capsule folders (none: a report by the options below)")
    p.add_argument("--dataset", help="a report of every analysis that read this dataset (id or id@version), "
                                     "with everything derived from it")
    p.add_argument("--since", help="published on or after this date (YYYY-MM-DD)")
    p.add_argument("--until", help="published on or before this date (YYYY-MM-DD)")
    p.add_argument("--author", action="append", help="by this hub user (repeat for a group's members)")
    p.add_argument("--award", help="done under this award number (the manifest's funding)")
    p.add_argument("--format", default="prov-json",
                   choices=["prov-json", "prov-o", "prov-jsonld", "prov-n", "prov-xml", "datacite", "crate", "summary"],
                   help="summary: a report for people in Markdown (counts, SUs per site, grants, citations)")
    p.add_argument("-o", "--output", metavar="PATH", help="write here (whole or not at all) instead of stdout")
    keys = sub.add_parser("keys", help="this site's signing keys").add_subparsers(dest="action", required=True)
    command(keys, "list", "the public keys (old ones stay, so old capsules verify)", cmd_keys)
    command(keys, "rotate", "make a new signing key current", cmd_keys)
