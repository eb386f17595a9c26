"""Typed errors. Each carries a user-facing message and a machine-readable reason.

The web layer maps them to HTTP in one place (``web_errors.py``, shared by the server extension
and the hub service) and the CLI maps them to exit code 2; nothing else needs to know about status
codes. Each class's reason belongs to its status: a different status means a different class.
"""

from __future__ import annotations


class VlassError(Exception):
    """Base of every error a user can act on."""

    status = 400
    reason = "bad_request"

    def __init__(self, message: str, *, reason: str | None = None):
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason

    def to_json(self) -> dict:
        return {"message": self.message, "reason": self.reason}


class InvalidRegion(VlassError):
    reason = "invalid_region"


class InvalidArgument(VlassError):
    reason = "invalid_argument"


class InvalidSource(VlassError):
    """A source definition (kind, URI, options) that cannot work."""

    reason = "invalid_source"


class NotFound(VlassError):
    """A file, tile or remote object that is not there."""

    status = 404
    reason = "not_found"


class Forbidden(VlassError):
    """The caller is known but may not do this (a missing scope or group)."""

    status = 403
    reason = "forbidden"


class Conflict(VlassError):
    """The request clashes with what is stored (a name taken, a decision already made)."""

    status = 409
    reason = "conflict"


class UnknownSource(VlassError):
    status = 404
    reason = "unknown_source"


class UnknownDataset(VlassError):
    status = 404
    reason = "unknown_dataset"


class CorruptData(VlassError):
    """A file or manifest that cannot be parsed (a FITS without WCS, broken JSON...)."""

    status = 422
    reason = "corrupt_data"


class SourceUnavailable(VlassError):
    """The remote side failed (connection refused, HTTP 5xx, S3 down)."""

    status = 502
    reason = "source_unavailable"


class SourceTimeout(SourceUnavailable):
    """The remote side did not answer within the deadline."""

    status = 504
    reason = "source_timeout"


class SourceUnauthorized(VlassError):
    """The remote side refused our credentials (its 401/403 is our upstream failure, not the caller's)."""

    status = 502
    reason = "source_unauthorized"


class RateLimited(VlassError):
    status = 429
    reason = "rate_limited"

    def __init__(self, message: str, *, retry_after: float):
        super().__init__(message)
        self.retry_after = retry_after

    def to_json(self) -> dict:
        return {**super().to_json(), "retry_after": round(self.retry_after, 3)}


class InvalidRequest(VlassError):
    """A resource request (spawn form, job submission) that fails validation; names the field."""

    reason = "invalid_request"


class InvalidProfiles(VlassError):
    """The admins' profiles file does not validate; says where."""

    status = 500
    reason = "invalid_profiles"


class RequestImpossible(VlassError):
    """The scheduler says the request can never run (more GPUs than a node has, over MaxTime)."""

    reason = "request_impossible"


class AllocationExceeded(VlassError):
    """Starting the request would overdraw the project's allocation."""

    status = 403
    reason = "allocation_exceeded"


class AwaitingApproval(VlassError):
    """The request is above the approval threshold and no admin has approved it yet."""

    status = 403
    reason = "awaiting_approval"


class ApprovalDenied(VlassError):
    status = 403
    reason = "approval_denied"


class UnknownApproval(VlassError):
    status = 404
    reason = "unknown_approval"


class SchedulerUnavailable(VlassError):
    """The scheduler did not answer (slurmctld down, munge down); try again."""

    status = 503
    reason = "scheduler_unavailable"


class DatabaseOutdated(VlassError):
    """The shared database's schema is older than this release; an admin must upgrade it."""

    status = 503
    reason = "database_outdated"


class InvalidManifest(InvalidRequest):
    """A job manifest that fails its schema or its checks (the message names the JSON path)."""

    reason = "invalid_manifest"


class UnknownJob(VlassError):
    """No job with that id that the caller may see."""

    status = 404
    reason = "unknown_job"


class SiteUnavailable(VlassError):
    """A compute site that is not configured, or cannot take jobs now."""

    status = 503
    reason = "site_unavailable"
