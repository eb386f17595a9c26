"""The single-user Jupyter server extension.

It adds nothing heavy to a server's start: the registry (astropy, MOCs, SQLAlchemy) is opened by the
first request that needs it.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Dict, Float, Integer, List, Unicode, default, validate

from .exceptions import VlassError
from .federation.limits import parse_rate
from .hub_client import hub_registry_applies
from .jobs.config import configured
from .server.routes import handlers
from .store.location import default_db_url


class RegistryOnDemand:
    """The server's registry, opened on the first :meth:`get` (from any thread)."""

    def __init__(self, db_url: str, **options):
        self.db_url, self.options = db_url, options
        self._registry = None
        self._lock = threading.Lock()

    def get(self):
        with self._lock:
            if self._registry is None:
                from .federation.hub_registry import HubRegistry
                from .federation.registry import Registry

                if hub_registry_applies():  # the hub service's; this server's database keeps only its jobs
                    self._registry = HubRegistry.from_environment(
                        jobs_db=self.db_url, credentials=self.options.get("credentials"),
                        use_hub_token=self.options.get("use_hub_token", False))
                else:
                    self._registry = Registry(self.db_url, **self.options)
            return self._registry


class VlassApp(ExtensionApp):
    """jupyter-vlass: federated dataset discovery (REST API, SIA2 endpoint, HiPS/FITS proxy)."""

    name = "jupyter_vlass"
    load_other_extensions = True

    db_url = Unicode(help="SQLAlchemy URL of the registry (default: JUPYTER_VLASS_DB or an SQLite file "
                          "in the user's data directory; a hub shares one PostgreSQL URL).").tag(config=True)
    deadline = Float(2.0, help="Seconds each source may take to answer a search.").tag(config=True)
    user_quota = Unicode("", help="Per-user search quota such as '600/h' (empty: no quota).").tag(config=True)
    worker_threads = Integer(0, help="Threads that run the API's database and source work (0: one per CPU, at "
                                     "least 2). Searches are CPU-bound under the GIL: more threads than "
                                     "cores only make them wait for each other.").tag(config=True)
    cache_dir = Unicode(help="Directory caching proxied HiPS tiles and FITS cutouts.").tag(config=True)
    source_credentials = Dict(
        help="Credentials per source name, e.g. {'tacc': {'key': ..., 'secret': ...}}. Never logged or "
             "returned; JUPYTER_VLASS_CRED_<SOURCE>_<FIELD> environment variables work too.",
    ).tag(config=True)
    local_groups = List(Unicode(), help="Groups of the server's user when no hub says (restricted and embargoed "
                                        "datasets are shown to the groups their source grants).").tag(config=True)
    job_sites = Dict(help="Where analysis jobs may run: {name: {kind: local|slurm, ...}} (slurm needs "
                          "'environment', the virtual environment jobs activate).").tag(config=True)
    job_profiles_file = Unicode("", help="The admins' profiles YAML that Slurm jobs choose from.").tag(config=True)
    jobs_dir = Unicode(help="Where job directories and staged inputs go (must be visible to the sites' nodes).").tag(
        config=True)
    job_account = Unicode("", help="The unix account jobs run as when this server runs as root (never root "
                                   "itself); empty: the server's own user.").tag(config=True)
    job_monitor_interval = Float(10.0, help="Seconds between the server's passes over its user's jobs, once a jobs "
                                            "request was made: a pass sees jobs end and charges them (again while "
                                            "Slurm's accounting or the hub service has not answered), whether or not "
                                            "anyone is looking; 0 turns it off.").tag(config=True)
    examples_dir = Unicode(help="A folder of example notebooks merged into the server's root at each start, never "
                                "overwriting the user's edits (default: $JUPYTER_VLASS_EXAMPLES; empty: none).").tag(
        config=True)
    examples_folder = Unicode("vlass-examples", help="Where under the server's root the examples go.").tag(config=True)
    sample_dir = Unicode(help="A `jupyter-vlass demo-data` folder whose sources are registered and synced, once, "
                              "into a registry that has none (default: $JUPYTER_VLASS_SAMPLE; empty: none).").tag(
        config=True)
    use_hub_token = Bool(False, help="Use the hub-provided access token (JUPYTER_VLASS_ACCESS_TOKEN, from "
                                     "the authenticator's auth_state) for sources without their own.").tag(config=True)

    @default("db_url")
    def _default_db_url(self):
        return default_db_url()

    @default("examples_dir")
    def _default_examples_dir(self):
        return os.environ.get("JUPYTER_VLASS_EXAMPLES", "")

    @default("sample_dir")
    def _default_sample_dir(self):
        return os.environ.get("JUPYTER_VLASS_SAMPLE", "")

    @validate("examples_folder")
    def _valid_examples_folder(self, proposal):
        folder = proposal["value"]
        if not folder or os.path.isabs(folder) or ".." in folder.split("/"):
            raise ValueError("examples_folder must be a relative path inside the server's root, without '..'")
        return folder

    @default("cache_dir")
    def _default_cache_dir(self):
        return os.path.join(os.path.expanduser("~"), ".cache", "jupyter-vlass")

    # Job settings default to $JUPYTER_VLASS_JOBS_CONFIG, the file the CLI and the Python API read too.
    @default("job_sites")
    def _default_job_sites(self):
        return configured().get("sites") or {"local": {"kind": "local"}}

    @default("job_profiles_file")
    def _default_job_profiles_file(self):
        return configured().get("profiles") or ""

    @default("job_account")
    def _default_job_account(self):
        return configured().get("account") or ""

    @default("jobs_dir")
    def _default_jobs_dir(self):
        if configured().get("jobs_dir"):
            return configured()["jobs_dir"]
        data_home = os.environ.get("XDG_DATA_HOME", os.path.join(os.path.expanduser("~"), ".local", "share"))
        return os.path.join(data_home, "jupyter-vlass", "jobs")

    @validate("deadline")
    def _valid_deadline(self, proposal):
        if not 0 < proposal["value"] <= 600:
            raise ValueError("deadline must be in (0, 600] seconds")
        return proposal["value"]

    @validate("user_quota")
    def _valid_quota(self, proposal):
        if proposal["value"]:
            parse_rate(proposal["value"])
        return proposal["value"]

    def _refuse_an_outdated_database(self) -> None:
        """A shared database behind this release: the server does not start (JupyterHub does the same),
        saying which command upgrades it. SQLite files, the default, are upgraded when opened instead."""
        if self.db_url.startswith("sqlite"):
            return
        # Imported here: a server on the SQLite default starts without SQLAlchemy and Alembic.
        from sqlalchemy.exc import SQLAlchemyError

        from .store.migrate import refuse_outdated
        from .store.session import make_engine

        engine = None
        try:
            engine = make_engine(self.db_url, upgrade=False)
            refuse_outdated(engine)
        except VlassError as error:
            self.log.critical("jupyter-vlass cannot start: %s", error.message)
            self.serverapp.exit(1)
        except SQLAlchemyError as error:  # not reachable now: each request says so until it is
            self.log.warning("jupyter-vlass: the database is not reachable yet: %s", str(error).splitlines()[0][:300])
        finally:
            if engine is not None:
                engine.dispose()

    def initialize_settings(self):
        from .hub_client import HubSearchQuota, HubServiceClient, service_from_environment

        self._refuse_an_outdated_database()

        hub = service_from_environment()  # under a hub, the quota is the hub service's, for all the user's servers
        registry = RegistryOnDemand(self.db_url, credentials=self.source_credentials, use_hub_token=self.use_hub_token,
                                    user_quota=self.user_quota or None, groups=(),
                                    shared_quota=HubSearchQuota(HubServiceClient(hub[0], token=hub[1])) if hub else None)
        jobs = JobSitesOnDemand(self.job_sites, account=self.job_account or None, profiles=self.job_profiles_file,
                                jobs_dir=self.jobs_dir, root=self.serverapp.root_dir)
        self.settings.update({"vlass_registry": registry, "vlass_jobs": jobs, "vlass_deadline": self.deadline,
                              "vlass_cache_dir": self.cache_dir,
                              "vlass_executor": ThreadPoolExecutor(
                                  max_workers=self.worker_threads or max(2, os.cpu_count() or 2),
                                  thread_name_prefix="vlass-api"),
                              "vlass_local_groups": list(self.local_groups)})
        if hub_registry_applies():
            self.log.info("jupyter-vlass registry: the hub service's (this server's jobs: %s)", redacted_url(self.db_url))
        else:
            self.log.info("jupyter-vlass registry: %s", redacted_url(self.db_url))

    def initialize_handlers(self):
        self.handlers.extend(handlers())

    async def _start_jupyter_server_extension(self, serverapp):
        """Start the jobs monitor once the server's loop runs (jupyter_server's hook for background tasks), and
        bring the examples and the sample sources in (off the loop: the server answers meanwhile)."""
        if self.examples_dir or self.sample_dir:
            asyncio.get_running_loop().run_in_executor(self.settings["vlass_executor"], self._onboard)
        if self.job_monitor_interval > 0:
            from tornado.ioloop import PeriodicCallback

            self._job_monitor = PeriodicCallback(self._monitor_jobs, self.job_monitor_interval * 1000)
            self._job_monitor.start()

    def _onboard(self) -> None:
        """The example notebooks merged into the user's root; the sample sources into an empty registry."""
        # Imported here, deliberately: the sample data's module brings numpy and astropy, which a server's
        # start does without (this runs in a worker thread after the start).
        from .onboarding import merge_examples, seed_sample
        from .sample_data import SampleDataError

        try:
            if self.examples_dir:
                merged = merge_examples(Path(self.examples_dir),
                                        Path(self.serverapp.root_dir) / self.examples_folder)
                self.log.info("jupyter-vlass examples in %s: copied %s, updated %s, kept the user's %s",
                              self.examples_folder, merged.copied, merged.updated, merged.kept)
            if self.sample_dir:
                for report in seed_sample(self.settings["vlass_registry"].get(), Path(self.sample_dir)):
                    self.log.info("jupyter-vlass sample source %s: %s (+%d)", report.source, report.status,
                                  report.added)
        except (OSError, VlassError, SampleDataError) as error:
            self.log.warning("jupyter-vlass could not bring in the examples or the sample data: %s", error)

    async def stop_extension(self):
        monitor = getattr(self, "_job_monitor", None)
        if monitor is not None:
            monitor.stop()

    async def _monitor_jobs(self) -> None:
        """One pass over the server's user's jobs (:meth:`Jobs.refresh`), off the event loop."""
        holder = self.settings["vlass_jobs"]
        if not holder.built:  # no jobs request yet: the registry and the sites stay unopened
            return
        owner = os.environ.get("JUPYTERHUB_USER") or getpass.getuser()

        def one_pass():
            registry = self.settings["vlass_registry"].get().viewer(self.settings["vlass_local_groups"])
            holder.jobs_for(registry, owner=owner, groups=self.settings["vlass_local_groups"]).refresh()

        try:
            await asyncio.get_running_loop().run_in_executor(self.settings["vlass_executor"], one_pass)
        except VlassError as error:
            self.log.warning("jupyter-vlass jobs monitor: %s", error.message)


main = launch_new_instance = VlassApp.launch_instance


class JobSitesOnDemand:
    """The server's job sites and profiles, built on the first jobs request (a bad setting is a 503 then)."""

    def __init__(self, config: dict, *, account: str | None, profiles: str, jobs_dir: str, root: str):
        self.config, self.account, self.profiles_file = config, account, profiles
        self.jobs_dir, self.root = jobs_dir, root
        self._built = None
        self._lock = threading.Lock()
        from .jobs.hub_accounts import HubAccounts

        self.accounts = HubAccounts.from_environment()  # under a hub with the vlass service: jobs are charged

    @property
    def built(self) -> bool:
        return self._built is not None

    def jobs_for(self, registry, *, owner: str, groups):
        """``owner``'s :class:`~jupyter_vlass.jobs.jobs.Jobs` at this server's sites (as ``registry`` shows them)."""
        from .jobs.jobs import Jobs

        sites, profiles = self.get()
        return Jobs(registry, sites=sites, root=self.root, owner=owner, jobs_dir=self.jobs_dir, profiles=profiles,
                    groups=groups, accounts=self.accounts)

    def get(self) -> tuple[dict, object]:
        """``(sites, profiles or None)``."""
        from .exceptions import SiteUnavailable, VlassError

        with self._lock:
            if self._built is None:
                from .compute.profiles import load_profiles
                from .jobs.sites import sites_from_config

                try:
                    sites = sites_from_config(self.config, account=self.account)
                    profiles = load_profiles(self.profiles_file) if self.profiles_file else None
                except VlassError as error:
                    raise SiteUnavailable(f"jobs are not set up on this server: {error.message}") from None
                self._built = (sites, profiles)
            return self._built


def redacted_url(url: str) -> str:
    """A database URL with its password (if any) replaced by ``***``."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
