"""The base handler: authentication, authorization and the one place errors become HTTP."""

from __future__ import annotations

import json

from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web
from tornado.ioloop import IOLoop

from ...exceptions import InvalidArgument, RateLimited, VlassError

AUTH_RESOURCE = "vlass"


class VlassHandler(ExtensionHandlerMixin, APIHandler):
    auth_resource = AUTH_RESOURCE

    def initialize(self, name: str = "jupyter_vlass", *args, **kwargs):
        super().initialize(name, *args, **kwargs)

    @property
    def registry(self):
        return self.settings["vlass_registry"]

    @property
    def username(self) -> str | None:
        user = self.current_user
        return getattr(user, "username", None) or (user if isinstance(user, str) else None)

    async def blocking(self, fn, *args, **kwargs):
        """Run domain code (database, remote sources) off the event loop."""
        return await IOLoop.current().run_in_executor(None, lambda: fn(*args, **kwargs))

    def json_body(self) -> dict:
        try:
            body = json.loads(self.request.body or b"{}")
        except json.JSONDecodeError:
            raise InvalidArgument("request body must be JSON") from None
        if not isinstance(body, dict):
            raise InvalidArgument("request body must be a JSON object")
        return body

    def write_json(self, doc, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(doc, default=str))

    def _handle_request_exception(self, exc: BaseException) -> None:
        if isinstance(exc, VlassError) and not self._finished:
            if isinstance(exc, RateLimited):
                self.set_header("Retry-After", str(max(1, round(exc.retry_after))))
            self.clear_header("Content-Type")
            self.write_json(exc.to_json(), status=exc.status)
            return
        super()._handle_request_exception(exc)


authenticated = web.authenticated
