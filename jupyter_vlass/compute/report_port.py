"""Inside a server job: pick a free port, report it to the hub, then become the notebook server.

The batch script carries this file's text and runs it as ``python3 -c "$code" jupyterhub-singleuser ...``,
so it uses the standard library only and needs nothing installed on the node. It stands in for
``batchspawner-singleuser``, which imports JupyterHub's ORM and API handlers to send one POST and so
delays the server's start by most of a second. The hub's port-report endpoint takes ``{"port": N}``.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import sys
import urllib.request
from urllib.parse import urlsplit, urlunsplit


def free_port() -> int:
    """A TCP port nothing listens on now (the kernel's choice, as ``jupyterhub.utils.random_port``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("", 0))
        return sock.getsockname()[1]


def _tls_context(environ) -> ssl.SSLContext | None:
    certfile, keyfile = environ.get("JUPYTERHUB_SSL_CERTFILE"), environ.get("JUPYTERHUB_SSL_KEYFILE")
    if not (certfile and keyfile):
        return None
    context = ssl.create_default_context(cafile=environ.get("JUPYTERHUB_SSL_CLIENT_CA") or None)
    context.load_cert_chain(certfile, keyfile)
    return context


def report(port: int, environ=os.environ, timeout: float = 30.0) -> None:
    """POST ``{"port": port}`` to the hub with the server's own API token; raises on any refusal."""
    url = environ["JUPYTERHUB_API_URL"].rstrip("/") + "/batchspawner"
    request = urllib.request.Request(url, data=json.dumps({"port": port}).encode(), method="POST", headers={
        "Authorization": f"token {environ['JUPYTERHUB_API_TOKEN']}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout, context=_tls_context(environ)) as response:
        response.read()


def server_argv(argv: list[str], port: int, environ=os.environ) -> list[str]:
    """The server's argv, its service URL (JupyterHub ≥ 2) or ``--port`` (older) set to ``port``."""
    service_url = environ.get("JUPYTERHUB_SERVICE_URL")
    if not service_url:
        return [*argv, f"--port={port}"]
    parts = urlsplit(service_url)
    environ["JUPYTERHUB_SERVICE_URL"] = urlunsplit(parts._replace(netloc=f"{parts.hostname}:{port}"))
    return list(argv)


def main(argv: list[str]) -> None:
    if not argv:
        sys.exit("usage: report_port SERVER-COMMAND [ARGS...]")
    port = free_port()
    report(port)
    command = server_argv(argv, port)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
