"""The hub endpoint a batch job calls to report its port, stricter than batchspawner's.

batchspawner's handler sets *any* attribute named in the JSON body on the spawner (``exec_prefix``,
``batch_script``...), and the token that may call it is readable by the user's own code. This one
accepts ``{"port": <int>}`` only, and replaces batchspawner's route when this module is imported.
"""

from __future__ import annotations

import json

import batchspawner.api  # noqa: F401  (registers the handler this module replaces)
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


default_handlers[:] = [h for h in default_handlers if h[0] != ROUTE]
default_handlers.append((ROUTE, PortReportHandler))
