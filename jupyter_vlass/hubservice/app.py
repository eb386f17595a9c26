"""The hub service's Tornado application: each resource module's routes assembled, the shared state
opened on the service's database, and the process served until the hub stops it."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuthCallbackHandler
from jupyterhub.utils import url_path_join
from tornado import web

from ..compute.approvals import Approvals
from ..compute.ledger import Ledger, LedgerSync
from ..compute.profiles import load_profiles
from ..exceptions import InvalidArgument
from ..federation.limits import Limits, parse_rate
from ..jobs.dashboard import JobReports
from ..jobs.job_accounts import JobAccounting
from ..jobs.job_records import JobRecords
from ..reproducibility.keys import Keyring
from ..reproducibility.signature_log import SignatureLog
from ..review.review import Review
from ..store import make_engine, session_factory
from . import allocations, jobs, quotas, review, signing
from .base import NoSuchPage

RESOURCES = (allocations, jobs, signing, review, quotas)


def make_app(*, db_url: str, profiles=None, keys: str | None = None,
             publish_threshold: float | None = None, search_quota: str | None = None) -> web.Application:
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
        signature_log=SignatureLog(sessions),
        review=Review(sessions, threshold=publish_threshold),
        cookie_secret=os.urandom(32),
        template_path=os.path.join(os.path.dirname(__file__), "templates"),
        xsrf_cookies=True,
        default_handler_class=NoSuchPage,
    )


async def serve(app: web.Application, port: int, host: str | None) -> None:
    """Listen until SIGINT or SIGTERM, however the process was launched.

    The hub stops a managed service with SIGINT first; a process started from a background shell
    inherits SIGINT ignored, so both signals get handlers of our own here.
    """
    server = app.listen(port, host)
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
    parser.add_argument("--db", required=True, help="database URL shared with the spawner")
    parser.add_argument("--profiles", help="profiles YAML (for the cluster name and threshold)")
    parser.add_argument("--keys", help="the site's signing keyring folder (default: ./vlass-keys)")
    parser.add_argument("--publish-threshold", type=float, default=None,
                        help="the consensus score publishing needs (default: $JUPYTER_VLASS_PUBLISH_THRESHOLD, else 0.8)")
    parser.add_argument("--search-quota", default=None,
                        help="searches each user may make across all their servers, such as '600/h' (default: none)")
    args = parser.parse_args(argv)
    if args.search_quota:
        try:
            parse_rate(args.search_quota)
        except InvalidArgument as error:
            parser.error(error.message)
    profiles = load_profiles(args.profiles) if args.profiles else None
    url = urlparse(os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:10101"))
    asyncio.run(serve(make_app(db_url=args.db, profiles=profiles, keys=args.keys,
                                     publish_threshold=args.publish_threshold, search_quota=args.search_quota),
                     url.port, url.hostname))
    return 0
