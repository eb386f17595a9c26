"""The hub service's Tornado application: each resource module's routes assembled, the shared state
opened on the service's database, and the process served until the hub stops it."""

from __future__ import annotations

import argparse
import asyncio
import os
import logging
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuthCallbackHandler
from jupyterhub.utils import url_path_join
from tornado import web

from ..compute.approvals import Approvals
from ..compute.ledger import Ledger, LedgerSync
from ..compute.profiles import load_profiles
from ..exceptions import InvalidArgument
from ..federation.limits import Limits, parse_rate
from ..federation.registry import Registry
from ..jobs.dashboard import JobReports
from ..jobs.job_accounts import JobAccounting
from ..jobs.job_records import JobRecords
from ..reproducibility.keys import Keyring
from ..reproducibility.location import capsule_store as open_capsules
from ..reproducibility.signature_log import SignatureLog
from ..review.review import Review
from ..store import make_engine, session_factory
from ..sample_data import sample_layout, seed_registry
from . import allocations, capsules, datasets, jobs, quotas, review, signing
from .base import NoSuchPage
from .config import CAPSULES_ENV, DB_ENV, REGISTRY_DB_ENV

RESOURCES = (allocations, datasets, jobs, signing, capsules, review, quotas)  # signing's api/capsules/sign first
log = logging.getLogger("jupyter_vlass.hubservice")


def open_registry(url: str, *, sample: str | None = None) -> Registry:
    """The hub's registry; ``sample`` (a ``jupyter-vlass demo-data`` folder) registered and synced into it when
    it has no sources yet, so a new hub's users find the sample datasets."""
    registry = Registry(url, groups=())
    if sample and not registry.sources():
        for report in seed_registry(registry, sample_layout(Path(sample))):
            log.info("sample source %s: %s (+%d)", report.source, report.status, report.added)
    return registry


def make_app(*, db_url: str, profiles=None, keys: str | None = None, publish_threshold: float | None = None,
             search_quota: str | None = None, registry: Registry | None = None,
             capsule_store: str | None = None) -> web.Application:
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/vlass/")
    sessions = session_factory(make_engine(db_url))
    cluster = profiles.site if profiles else "local"
    threshold = profiles.approval_threshold_gpu_hours if profiles else 0.0
    approvals, ledger = Approvals(sessions, threshold_gpu_hours=threshold), Ledger(sessions, cluster=cluster)
    return web.Application(
        [(url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
         *(route for resource in RESOURCES for route in resource.routes(lambda path: url_path_join(prefix, path)))],
        search_quota=Limits(user_quota=search_quota) if search_quota else None,
        search_quota_text=search_quota,
        approvals=approvals,
        ledger=ledger,
        job_accounting=JobAccounting(ledger, approvals, profiles),
        sync_ledger=LedgerSync(ledger, profiles),
        job_reports=JobReports(sessions),
        job_records=JobRecords(sessions),
        keyring=Keyring(keys or os.path.abspath("vlass-keys")),
        capsules=open_capsules(capsule_store or os.path.abspath("vlass-capsules")),
        signature_log=SignatureLog(sessions),
        review=Review(sessions, threshold=publish_threshold),
        registry=registry,
        executor=ThreadPoolExecutor(max_workers=max(4, os.cpu_count() or 2), thread_name_prefix="vlass-service"),
        cookie_secret=os.urandom(32),
        template_path=os.path.join(os.path.dirname(__file__), "templates"),
        xsrf_cookies=True,
        default_handler_class=NoSuchPage,
    )


async def serve(app: web.Application, port: int, host: str | None, *, max_body_size: int | None = None) -> None:
    """Listen until SIGINT or SIGTERM, however the process was launched.

    The hub stops a managed service with SIGINT first; a process started from a background shell
    inherits SIGINT ignored, so both signals get handlers of our own here.
    """
    server = app.listen(port, host, max_body_size=max_body_size)  # a capsule is sent whole
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    try:
        await stopping.wait()
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jupyter_vlass.hubservice", description=__doc__)
    parser.add_argument("--db", default=os.environ.get(DB_ENV),
                        help=f"database URL shared with the spawner (default: ${DB_ENV})")
    parser.add_argument("--profiles", help="profiles YAML (for the cluster name and threshold)")
    parser.add_argument("--keys", help="the site's signing keyring folder (default: ./vlass-keys)")
    parser.add_argument("--capsules", default=os.environ.get(CAPSULES_ENV),
                        help=f"the hub's published capsules, a folder or s3://bucket/prefix the service alone writes "
                             f"(default: ${CAPSULES_ENV}, else ./vlass-capsules)")
    parser.add_argument("--publish-threshold", type=float, default=None,
                        help="the consensus score publishing needs (default: $JUPYTER_VLASS_PUBLISH_THRESHOLD, else 0.8)")
    parser.add_argument("--registry-db", default=os.environ.get(REGISTRY_DB_ENV),
                        help=f"the dataset registry the service holds for every user (default: ${REGISTRY_DB_ENV}; "
                             "unset: none, each user's server has its own)")
    parser.add_argument("--sample", default=None,
                        help="a `jupyter-vlass demo-data` folder synced into an empty registry at start")
    parser.add_argument("--search-quota", default=None,
                        help="searches each user may make across all their servers, such as '600/h' (default: none)")
    args = parser.parse_args(argv)
    if not args.db:
        parser.error(f"--db (or ${DB_ENV}) is required")
    if args.search_quota:
        try:
            parse_rate(args.search_quota)
        except InvalidArgument as error:
            parser.error(error.message)
    profiles = load_profiles(args.profiles) if args.profiles else None
    url = urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101"))
    logging.basicConfig(level=logging.INFO, format="[%(levelname).1s %(asctime)s %(name)s] %(message)s")
    registry = open_registry(args.registry_db, sample=args.sample) if args.registry_db else None
    asyncio.run(serve(make_app(db_url=args.db, profiles=profiles, keys=args.keys,
                               publish_threshold=args.publish_threshold, search_quota=args.search_quota,
                               registry=registry, capsule_store=args.capsules), url.port, url.hostname,
                     max_body_size=1 << 30))
    return 0
