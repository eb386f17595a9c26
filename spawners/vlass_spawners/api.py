"""The hub endpoint a batch job calls to report its port, stricter than batchspawner's.

batchspawner's handler sets *any* attribute named in the JSON body on the spawner (``exec_prefix``,
``batch_script``...), and the token that may call it is readable by the user's own code. This one
accepts ``{"port": <int>}`` only. :func:`install_port_report`, called from ``jupyterhub_config.py``,
puts it in place of batchspawner's route; the Slurm spawner refuses to start a server without it.
"""

from __future__ import annotations

import json

from jupyterhub.apihandlers import APIHandler, default_handlers
from tornado import web

ROUTE = r"/api/batchspawner"


class PortReportHandler(APIHandler):
    @web.authenticated
    def post(self):
        user = self.current_user
        token = self.get_auth_token()
        spawner = next((s for s in getattr(user, "spawners", {}).values() if s.api_token == token), None)
        if spawner is None:
            raise web.HTTPError(403, "this token does not belong to a server")
        data = self.get_json_body()
        port = data.get("port") if isinstance(data, dict) else None
        if not isinstance(data, dict) or set(data) != {"port"} or isinstance(port, bool) \
                or not isinstance(port, int) or not 1024 <= port <= 65535:
            raise web.HTTPError(400, 'expected {"port": <integer 1024-65535>} and nothing else')
        spawner.port = port
        self.set_status(201)
        self.finish(json.dumps({"message": "port recorded"}))


def install_port_report(handlers: list | None = None) -> None:
    """Route ``/api/batchspawner`` to :class:`PortReportHandler` (in JupyterHub's API handlers by default)."""
    import batchspawner.api  # noqa: F401  (registers batchspawner's handler first, so it is the one replaced)

    handlers = default_handlers if handlers is None else handlers
    handlers[:] = [h for h in handlers if h[0] != ROUTE]
    handlers.append((ROUTE, PortReportHandler))


def port_report_installed(handlers: list | None = None) -> bool:
    """Whether the hub will route the port report to :class:`PortReportHandler` (and only there)."""
    routes = [h[1] for h in (default_handlers if handlers is None else handlers) if h[0] == ROUTE]
    return routes == [PortReportHandler]
