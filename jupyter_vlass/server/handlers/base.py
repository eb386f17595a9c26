"""The base handler of the server extension: authentication, authorization, domain access (errors: web_errors.py)."""

from __future__ import annotations

from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web
from tornado.ioloop import IOLoop

from ...web_errors import TypedErrorsMixin

AUTH_RESOURCE = "vlass"


class VlassAccess:
    """What every handler of the extension knows of its caller: groups, owner, the registry as they see it."""

    auth_resource = AUTH_RESOURCE

    def initialize(self, name: str = "jupyter_vlass", *args, **kwargs):
        super().initialize(name, *args, **kwargs)

    @property
    def registry(self):
        """The registry as this caller may see it (restricted datasets only for the groups granted)."""
        return self.settings["vlass_registry"].get().viewer(self.groups)

    @property
    def groups(self) -> list[str]:
        """The caller's groups: from the hub's user model when the hub logged them in, else the server's
        ``local_groups`` setting (a server outside a hub has one user: its owner)."""
        hub_user = getattr(self.current_user, "hub_user", None)
        if isinstance(hub_user, dict):
            return [g for g in hub_user.get("groups") or [] if isinstance(g, str)]
        return list(self.settings.get("vlass_local_groups", []))

    @property
    def owner(self) -> str:
        """Whose jobs these are: the hub user who logged in, else the unix user this server runs as (a
        server outside a hub has one user; its token logins get a random name per request)."""
        hub_user = getattr(self.current_user, "hub_user", None)
        if isinstance(hub_user, dict) and isinstance(hub_user.get("name"), str):
            return hub_user["name"]
        import getpass

        return getpass.getuser()

    @property
    def username(self) -> str | None:
        user = self.current_user
        return getattr(user, "username", None) or (user if isinstance(user, str) else None)

    def jobs(self):
        """The caller's jobs (a user sees and acts on their own only); the server's jobs monitor sees them
        end and charges them when nobody asks (app.py)."""
        return self.settings["vlass_jobs"].jobs_for(self.registry, owner=self.owner, groups=self.groups)

    async def blocking(self, fn, *args, **kwargs):
        """Run domain code (database, remote sources) off the event loop."""
        return await IOLoop.current().run_in_executor(self.settings.get("vlass_executor"), lambda: fn(*args, **kwargs))


class VlassHandler(VlassAccess, TypedErrorsMixin, ExtensionHandlerMixin, APIHandler):
    """A REST handler: JSON in and out."""


class VlassPage(VlassAccess, TypedErrorsMixin, ExtensionHandlerMixin, JupyterHandler):
    """A page for people: a browser without the server's cookie is sent to log in (through the hub's OAuth),
    and a form it posts carries the XSRF token."""


authenticated = web.authenticated
