"""Typed errors to HTTP: the one map shared by the server extension and the hub service.

Every answer to a failed request is JSON ``{message, reason}`` with the status the error's class
declares. Neither web package imports the other; both import this module.
"""

from __future__ import annotations

import json
from http import HTTPStatus

from .exceptions import InvalidArgument, RateLimited, VlassError

# Reasons for the web framework's own errors (a bad URL, a missing login, a wrong method).
FRAMEWORK_REASONS = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                     405: "method_not_allowed", 409: "conflict", 413: "too_large", 429: "rate_limited"}


def error_response(error: BaseException | None, status: int | None = None) -> tuple[int, dict]:
    """The status and JSON body a client sees for ``error`` (or for a bare ``status``).

    A typed error answers with its class's status and reason; the framework's own errors with
    their status and a reason from :data:`FRAMEWORK_REASONS`; anything else is a 500 that says
    nothing of the internals.
    """
    if isinstance(error, VlassError):
        return error.status, error.to_json()
    status = status or getattr(error, "status_code", None) or 500
    if not 400 <= status < 600:
        status = 500
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    if status >= 500:
        return status, {"message": phrase, "reason": "internal_error"}
    message = getattr(error, "log_message", None) or phrase
    reason = getattr(error, "reason", None) or FRAMEWORK_REASONS.get(status, "error")
    return status, {"message": message, "reason": reason}


class TypedErrorsMixin:
    """For tornado handlers: read a JSON object body, write JSON, answer every error as JSON."""

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
            status, body = error_response(exc)
            self.write_json(body, status=status)
            return
        super()._handle_request_exception(exc)

    def write_error(self, status_code: int, **kwargs) -> None:
        """The framework's own errors (401, 403, 404, 405, 500) as JSON ``{message, reason}`` too."""
        error = kwargs.get("exc_info", (None, None, None))[1]
        status, body = error_response(None if isinstance(error, VlassError) else error, status_code)
        self.clear_header("Content-Type")
        self.write_json(body, status=status)
