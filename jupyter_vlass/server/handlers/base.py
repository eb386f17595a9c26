"""The base handler of the server extension: authentication, authorization, domain access (errors: web_errors.py)."""

from __future__ import annotations

from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web
from tornado.ioloop import IOLoop

from ...web_errors import TypedErrorsMixin

AUTH_RESOURCE = "vlass"


class VlassHandler(TypedErrorsMixin, ExtensionHandlerMixin, APIHandler):
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


authenticated = web.authenticated
