"""``jupyter-vlass jobs ...`` and ``jupyter-vlass cache ...``: analysis jobs from a terminal.

Sites, profiles and the jobs directory come from ``--config FILE`` (JSON or YAML; or
``$JUPYTER_VLASS_JOBS_CONFIG``)::

    sites: {local: {kind: local}, slurm: {kind: slurm, environment: /opt/vlass-jobenv}}
    profiles: /etc/jupyterhub/profiles.yaml
    jobs_dir: /scratch/me/vlass-jobs
    account: alice          # only when run as root: the account jobs run as
"""

from __future__ import annotations

import getpass
import json
import os
import sys
import time
from pathlib import Path

from .exceptions import InvalidArgument

CONFIG_ENV = "JUPYTER_VLASS_JOBS_CONFIG"
CONFIG_KEYS = {"sites", "profiles", "jobs_dir", "account"}


def read_config(path: str) -> dict:
    """The jobs config file (JSON or YAML), its keys checked."""
    import yaml

    try:
        config = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as error:
        raise InvalidArgument(f"jobs config {path}: {error}") from None
    if not isinstance(config, dict) or set(config) - CONFIG_KEYS:
        raise InvalidArgument(f"jobs config {path}: expected an object with keys {', '.join(sorted(CONFIG_KEYS))}")
    return config


def open_jobs(*, config: str | None = None, db: str | None = None, root: str = "."):
    """The caller's jobs with the sites, profiles and jobs directory of ``config`` (a file path; default
    ``$JUPYTER_VLASS_JOBS_CONFIG``, else the local site only)."""
    from .compute.jobs import Jobs
    from .compute.profiles import load_profiles
    from .compute.sites import sites_from_config
    from .federation.registry import Registry

    path = config or os.environ.get(CONFIG_ENV)
    settings = read_config(path) if path else {}
    sites = sites_from_config(settings.get("sites") or {"local": {"kind": "local"}},
                              account=settings.get("account"))
    profiles = load_profiles(settings["profiles"]) if settings.get("profiles") else None
    registry = Registry(db)
    return Jobs(registry, sites=sites, root=root, owner=getpass.getuser(), profiles=profiles,
                jobs_dir=settings.get("jobs_dir"), groups=registry.groups)


def _jobs(args):
    return open_jobs(config=args.config, db=args.db, root=args.root)


def _show(job: dict) -> str:
    line = f"{job['id']}  {job['state']:<10} {job['site']:<8} {job.get('notebook') or ''}"
    return line + (f"\n    {job['reason']}" if job.get("reason") else "")


def cmd_jobs_submit(args) -> int:
    from .cli import _print_json

    try:
        text = sys.stdin.read() if args.manifest == "-" else Path(args.manifest).read_text()
        document = json.loads(text)
    except (OSError, ValueError) as error:
        raise InvalidArgument(f"cannot read the manifest {args.manifest}: {error}") from None
    from tqdm import tqdm

    with tqdm(desc="staging inputs", unit="B", unit_scale=True, file=sys.stderr, leave=False,
              disable=None) as bar:  # disable=None: no bar when stderr is not a terminal

        def staged(done, total):
            bar.total = total
            bar.update(done - bar.n)

        job = _jobs(args).submit(document, progress=staged)
    status = job.status()
    last = None
    while args.wait and status["state"] not in ("done", "failed", "cancelled"):
        if (status["state"], status["reason"]) != last:
            print(f"{status['state']}: {status.get('reason') or ''}", file=sys.stderr)
            last = (status["state"], status["reason"])
        time.sleep(1.0)
        status = job.status()
    _print_json(status) if args.json else print(_show(status))
    return 1 if args.wait and status["state"] != "done" else 0


def cmd_jobs_list(args) -> int:
    from .cli import _print_json

    jobs = [job.status() for job in _jobs(args).list()]
    if args.json:
        _print_json(jobs)
    for job in [] if args.json else jobs:
        print(_show(job))
    return 0


def cmd_jobs_show(args) -> int:
    from .cli import _print_json

    status = _jobs(args).get(args.id).status()
    _print_json(status) if args.json else print(_show(status))
    if not args.json and status.get("result"):
        for item in status["result"]["files"]:
            print(f"    {status['result']['location']}/{item['name']}  {item['size']:,} B  sha256:{item['sha256']}")
    return 0


def cmd_jobs_logs(args) -> int:
    print(_jobs(args).log(args.id, lines=args.lines))
    return 0


def cmd_jobs_cancel(args) -> int:
    print(_show(_jobs(args).cancel(args.id).status()))
    return 0


def cmd_cache_stats(args) -> int:
    from .cli import _print_json

    stats = _jobs(args).cache.stats()
    if args.json:
        _print_json(stats)
        return 0
    rate = "n/a" if stats["hit_rate"] is None else f"{stats['hit_rate']:.0%}"
    print(f"{stats['entries']} results, {stats['bytes']:,} B; hits {stats['hits']}, computed {stats['computed']}, "
          f"hit rate {rate}; per site: {stats['per_site']}")
    return 0


def cmd_cache_gc(args) -> int:
    from .cli import _print_json

    jobs = _jobs(args)
    removed = jobs.cache.gc(verify=args.verify, owned_under=jobs.jobs_dir)
    _print_json(removed) if args.json else print(f"removed {len(removed)} cached results")
    return 0


def _lines(text: str) -> int:
    import argparse

    if not text.isdigit() or not 1 <= int(text) <= 10000:
        raise argparse.ArgumentTypeError("must be an integer from 1 to 10000")
    return int(text)


def add_commands(sub) -> None:
    common = {"--config": {"help": f"sites, profiles and jobs directory (JSON/YAML; default ${CONFIG_ENV} or "
                                   "the local site only)"},
              "--root": {"default": ".", "help": "your notebook directory (manifest paths are relative to it)"}}

    def parser(group, name, help_, fn):
        p = group.add_parser(name, help=help_)
        for flag, options in common.items():
            p.add_argument(flag, **options)
        p.set_defaults(fn=fn)
        return p

    jobs = sub.add_parser("jobs", help="analysis jobs on the local and Slurm sites").add_subparsers(
        dest="action", required=True)
    p = parser(jobs, "submit", "submit a job manifest (JSON; - for stdin); the same manifest is the same job",
               cmd_jobs_submit)
    p.add_argument("manifest")
    p.add_argument("--wait", action="store_true", help="follow the job until it ends (exit 1 unless done)")
    p.add_argument("--json", action="store_true")
    p = parser(jobs, "list", "your jobs, newest first", cmd_jobs_list)
    p.add_argument("--json", action="store_true")
    p = parser(jobs, "show", "one job: state, reason, result files", cmd_jobs_show)
    p.add_argument("id")
    p.add_argument("--json", action="store_true")
    p = parser(jobs, "logs", "the tail of a job's log", cmd_jobs_logs)
    p.add_argument("id")
    p.add_argument("--lines", type=_lines, default=200)
    p = parser(jobs, "cancel", "cancel a queued or running job", cmd_jobs_cancel)
    p.add_argument("id")

    cache = sub.add_parser("cache", help="the result cache").add_subparsers(dest="action", required=True)
    p = parser(cache, "stats", "cached results, hits and the hit rate", cmd_cache_stats)
    p.add_argument("--json", action="store_true")
    p = parser(cache, "gc", "drop expired results (and, with --verify, copies whose bytes changed)", cmd_cache_gc)
    p.add_argument("--verify", action="store_true", help="re-hash every cached byte")
    p.add_argument("--json", action="store_true")
