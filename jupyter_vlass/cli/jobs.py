"""``jupyter-vlass jobs ...`` and ``jupyter-vlass cache ...``: analysis jobs from a terminal.

Sites, profiles and the jobs directory come from ``--config FILE`` (default ``$JUPYTER_VLASS_JOBS_CONFIG``;
the format is :mod:`jupyter_vlass.jobs.config`'s).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ..exceptions import InvalidArgument
from ..jobs.config import CONFIG_ENV, open_jobs
from .output import print_json


def _jobs(args):
    return open_jobs(config=args.config, db=args.db, root=args.root)


def _show(job: dict) -> str:
    line = f"{job['id']}  {job['state']:<10} {job['site']:<8} {job.get('notebook') or ''}"
    return line + (f"\n    {job['reason']}" if job.get("reason") else "")


def _print_status(args, status: dict) -> None:
    if args.json:
        print_json(status)
    else:
        print(_show(status))


def cmd_jobs_submit(args) -> int:
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
    _print_status(args, status)
    return 1 if args.wait and status["state"] != "done" else 0


def cmd_jobs_list(args) -> int:
    jobs = [job.status() for job in _jobs(args).list()]
    if args.json:
        print_json(jobs)
        return 0
    for job in jobs:
        print(_show(job))
    return 0


def cmd_jobs_show(args) -> int:
    status = _jobs(args).get(args.id).status()
    _print_status(args, status)
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
    stats = _jobs(args).cache.stats()
    if args.json:
        print_json(stats)
        return 0
    rate = "n/a" if stats["hit_rate"] is None else f"{stats['hit_rate']:.0%}"
    print(f"{stats['entries']} results, {stats['bytes']:,} B; hits {stats['hits']}, computed {stats['computed']}, "
          f"hit rate {rate}; per site: {stats['per_site']}")
    return 0


def cmd_cache_gc(args) -> int:
    jobs = _jobs(args)
    removed = jobs.cache.gc(verify=args.verify, owned_under=jobs.jobs_dir)
    if args.json:
        print_json(removed)
    else:
        print(f"removed {len(removed)} cached results")
    return 0


def _lines(text: str) -> int:
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
