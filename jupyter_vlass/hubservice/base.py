"""What every handler of the hub service shares: the base handler (the caller, their scopes, typed errors as
JSON ``{message, reason}``, XSRF for cookie-authenticated requests) and the JSON 404 for any other path."""

from __future__ import annotations

from jupyterhub.services.auth import HubOAuthenticated
from tornado import web

from ..compute.approvals import Approvals
from ..compute.ledger import Ledger
from ..exceptions import Forbidden, NotFound
from ..web_errors import TypedErrorsMixin
from .config import DECIDE_SCOPE
from .layout import TITLES, hub_page


class ServiceHandler(TypedErrorsMixin, HubOAuthenticated, web.RequestHandler):
    """Base: errors as JSON ``{message, reason}``; the caller's name and whether they may decide."""

    @property
    def approvals(self) -> Approvals:
        return self.settings["approvals"]

    @property
    def ledger(self) -> Ledger:
        return self.settings["ledger"]

    @property
    def user_name(self) -> str:
        return self.current_user["name"]

    @property
    def may_decide(self) -> bool:
        return DECIDE_SCOPE in set(self.current_user.get("scopes", []))

    def check_xsrf_cookie(self):
        """A request that carries its own token is not riding on a cookie: XSRF checks are for cookies.

        A browser cannot add an ``Authorization`` header to a cross-site request without CORS, which
        this service never grants; cookie-authenticated POSTs must bring the ``_xsrf`` token.
        """
        if self.request.headers.get("Authorization"):
            return
        super().check_xsrf_cookie()

    def render(self, template_name: str, *, title: str | None = None, **kwargs) -> None:
        """The page's fragment of ``templates/`` in the hub's own page (:mod:`.layout`)."""
        body = self.render_string(template_name, **kwargs).decode()
        self.finish(hub_page(self, body, title=title or TITLES[template_name], here=template_name.removesuffix(".html")))

    def require_decide(self, what: str) -> None:
        if not self.may_decide:
            raise Forbidden(f"{what} needs the scope {DECIDE_SCOPE}")


class NoSuchPage(TypedErrorsMixin, web.RequestHandler):
    """Any other path: a JSON 404 like every other error of the service."""

    def prepare(self):
        raise NotFound(f"no such page: {self.request.path[:200]}")

    def check_xsrf_cookie(self):  # a 404 whatever the method
        pass
