"""The hub service's Tornado application: each resource module's routes assembled, the shared state
opened on the service's database, and the process served until the hub stops it."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import logging
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuthCallbackHandler
from jupyterhub.utils import url_path_join
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.ioloop import PeriodicCallback
from tornado.netutil import bind_sockets

from ..compute.approvals import Approvals
from ..compute.ledger import Ledger, LedgerSync
from ..compute.profiles import load_profiles
from ..exceptions import InvalidArgument
from ..federation.limits import PerUser, parse_rate
from ..federation.registry import Registry
from ..federation.shared_quota import SharedQuota
from ..jobs.dashboard import JobReports
from ..jobs.job_accounts import JobAccounting
from ..jobs.job_records import JobRecords
from ..reproducibility.gallery import SignatureChecks
from ..reproducibility.keys import Keyring
from ..reproducibility.location import capsule_store as open_capsules
from ..reproducibility.signature_log import SignatureLog
from ..review.review import Review
from ..store import make_engine, session_factory
from ..sample_data import sample_layout, seed_registry
from ..jobs.hub_results import HubResults
from . import allocations, capsules, datasets, gallery, jobs, quotas, results, review, signing
from .layout import STATIC
from .base import NoSuchPage
from .config import CAPSULES_ENV, DB_ENV, PROCESSES_ENV, REGISTRY_DB_ENV, RESULTS_ENV

RESOURCES = (allocations, datasets, jobs, results, signing, capsules, gallery, review, quotas)  # signing's api/capsules/sign first
DEFAULT_PAGE_RATE = "5/s"  # per user and process: a person reading never meets it, a scraper does
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
             capsule_store: str | None = None, results: str | None = None,
             page_rate: str | None = DEFAULT_PAGE_RATE) -> web.Application:
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/vlass/")
    sessions = session_factory(make_engine(db_url))
    cluster = profiles.site if profiles else "local"
    threshold = profiles.approval_threshold_gpu_hours if profiles else 0.0
    approvals, ledger = Approvals(sessions, threshold_gpu_hours=threshold), Ledger(sessions, cluster=cluster)
    keyring = Keyring(keys or os.path.abspath("vlass-keys"))
    return web.Application(
        [(url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
         *(route for resource in RESOURCES for route in resource.routes(lambda path: url_path_join(prefix, path)))],
        search_quota=SharedQuota(sessions, search_quota) if search_quota else None,
        search_quota_text=search_quota,
        page_rate=PerUser(page_rate) if page_rate else None,
        approvals=approvals,
        ledger=ledger,
        job_accounting=JobAccounting(ledger, approvals, profiles),
        sync_ledger=LedgerSync(ledger, profiles),
        job_reports=JobReports(sessions),
        job_records=JobRecords(sessions),
        hub_results=HubResults(sessions, results or os.path.abspath("vlass-results")),
        keyring=keyring,
        signature_checks=SignatureChecks(keyring),
        capsules=open_capsules(capsule_store or os.path.abspath("vlass-capsules")),
        signature_log=SignatureLog(sessions),
        review=Review(sessions, threshold=publish_threshold),
        registry=registry,
        executor=ThreadPoolExecutor(max_workers=max(4, os.cpu_count() or 2), thread_name_prefix="vlass-service"),
        cookie_secret=cookie_secret(),
        template_path=os.path.join(os.path.dirname(__file__), "templates"),
        static_path=STATIC,  # the hub's own styles and scripts, for its page layout around the service's pages
        static_url_prefix=url_path_join(prefix, "static/"),
        xsrf_cookies=True,
        default_handler_class=NoSuchPage,
    )


def cookie_secret() -> bytes:
    """One secret for every process of the service, so that whichever answers reads the OAuth cookies another
    set: derived from the service's hub API token, which only the service holds (random without a hub)."""
    token = os.environ.get("JUPYTERHUB_API_TOKEN")
    if not token:
        return os.urandom(32)
    return hmac.new(token.encode(), b"jupyter-vlass service cookies", hashlib.sha256).digest()


async def serve(app: web.Application, sockets, *, max_body_size: int | None = None) -> None:
    """Answer on ``sockets`` until SIGINT or SIGTERM, however the process was launched, or until the process
    that forked this one is gone (a supervisor killed outright leaves no service process behind).

    The hub stops a managed service with SIGINT first; a process started from a background shell
    inherits SIGINT ignored, so both signals get handlers of our own here.
    """
    server = HTTPServer(app, max_body_size=max_body_size)  # a capsule is sent whole
    server.add_sockets(sockets)
    warming = asyncio.get_running_loop().run_in_executor(app.settings["executor"], _warm, app)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    parent = os.getppid()
    orphaned = PeriodicCallback(lambda: os.getppid() != parent and stopping.set(), 1000)
    orphaned.start()
    try:
        await stopping.wait()
    finally:
        orphaned.stop()
        server.stop()
        warming.cancel()


def _warm(app: web.Application) -> None:
    """Every stored capsule's signature checked in the background while the service already answers."""
    started = time.monotonic()
    try:
        count = app.settings["signature_checks"].warm(app.settings["capsules"])
    except Exception:  # noqa: BLE001 - a page checks what this could not; the service keeps answering
        log.exception("checking the stored capsules' signatures at start")
        return
    log.info("%d capsules' signatures checked in %.1f s", count, time.monotonic() - started)


def supervise(count: int, child) -> int:
    """Run ``child()`` in ``count`` forked processes sharing the listening sockets (as Tornado's
    ``fork_processes``), start another when one dies, and stop them all on SIGINT or SIGTERM."""
    children: set[int] = set()
    stopping = False

    def start() -> None:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                for signum in (signal.SIGINT, signal.SIGTERM):
                    signal.signal(signum, signal.SIG_DFL)
                code = child() or 0
            except Exception:  # said in the hub's log, not lost with the process
                log.exception("service process %d failed", os.getpid())
            finally:
                os._exit(code)
        children.add(pid)

    def stop(signum, frame) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
    for _ in range(count):
        start()
    while children:
        pid, status = os.wait()
        children.discard(pid)
        if not stopping:
            log.warning("service process %d ended (status %d): starting another", pid, status)
            time.sleep(0.5)
            start()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jupyter_vlass.hubservice", description=__doc__)
    parser.add_argument("--db", default=os.environ.get(DB_ENV),
                        help=f"database URL shared with the spawner (default: ${DB_ENV})")
    parser.add_argument("--profiles", help="profiles YAML (for the cluster name and threshold)")
    parser.add_argument("--keys", help="the site's signing keyring folder (default: ./vlass-keys)")
    parser.add_argument("--capsules", default=os.environ.get(CAPSULES_ENV),
                        help=f"the hub's published capsules, a folder or s3://bucket/prefix the service alone writes "
                             f"(default: ${CAPSULES_ENV}, else ./vlass-capsules)")
    parser.add_argument("--results", default=os.environ.get(RESULTS_ENV),
                        help=f"the hub-wide result cache's copies, a folder the service alone reads (default: "
                             f"${RESULTS_ENV}, else ./vlass-results)")
    parser.add_argument("--publish-threshold", type=float, default=None,
                        help="the consensus score publishing needs (default: $JUPYTER_VLASS_PUBLISH_THRESHOLD, else 0.8)")
    parser.add_argument("--registry-db", default=os.environ.get(REGISTRY_DB_ENV),
                        help=f"the dataset registry the service holds for every user (default: ${REGISTRY_DB_ENV}; "
                             "unset: none, each user's server has its own)")
    parser.add_argument("--sample", default=None,
                        help="a `jupyter-vlass demo-data` folder synced into an empty registry at start")
    parser.add_argument("--processes", type=int, default=int(os.environ.get(PROCESSES_ENV) or 1),
                        help=f"service processes answering on one port, sharing the database (default: ${PROCESSES_ENV}, "
                             "else 1); more than one needs a database every process reaches (PostgreSQL)")
    parser.add_argument("--search-quota", default=None,
                        help="searches each user may make across all their servers, such as '600/h' (default: none)")
    parser.add_argument("--page-rate", default=DEFAULT_PAGE_RATE,
                        help="gallery pages, JSON and provenance exports per user and process, ten seconds' worth at once "
                             f"(default: {DEFAULT_PAGE_RATE})")
    args = parser.parse_args(argv)
    if not args.db:
        parser.error(f"--db (or ${DB_ENV}) is required")
    for rate in filter(None, (args.search_quota, args.page_rate)):
        try:
            parse_rate(rate)
        except InvalidArgument as error:
            parser.error(error.message)
    if args.processes < 1:
        parser.error("--processes must be at least 1")
    profiles = load_profiles(args.profiles) if args.profiles else None
    url = urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101"))
    many = args.processes > 1
    logging.basicConfig(level=logging.INFO, format="[%(levelname).1s %(asctime)s %(name)s"
                        + (" %(process)d" if many else "") + "] %(message)s")
    make_engine(args.db).dispose()  # the schema made (or checked) once, before any process answers
    registry = open_registry(args.registry_db, sample=args.sample) if args.registry_db else None
    if many and registry is not None:  # each process opens its own connections
        registry.close()
        registry.engine.dispose()
    sockets = bind_sockets(url.port, url.hostname)

    def run() -> int:
        own = Registry(args.registry_db, groups=()) if many and args.registry_db else registry
        app = make_app(db_url=args.db, profiles=profiles, keys=args.keys, publish_threshold=args.publish_threshold,
                       search_quota=args.search_quota, registry=own, capsule_store=args.capsules,
                       results=args.results, page_rate=args.page_rate)
        asyncio.run(serve(app, sockets, max_body_size=1 << 30))
        return 0
    return supervise(args.processes, run) if many else run()
