"""Typed errors to JSON ``{message, reason}``: the mapping every handler of the project shares
(the single-user server's handlers and the hub service's)."""

from __future__ import annotations

import json

from ...exceptions import InvalidArgument, RateLimited, VlassError


class TypedErrorsMixin:
    """For tornado handlers: read a JSON object body, write JSON, answer a :class:`VlassError` with its status."""

    def json_body(self) -> dict:
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError:
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
