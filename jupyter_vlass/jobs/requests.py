"""What a job asks its site for: the resource request its profile and resources resolve to (None on the local
site), as submission checks it and as the job's document shows it."""

from __future__ import annotations

from collections.abc import Mapping

import astropy.units as u

from ..compute.profiles import ProfileSet
from ..compute.resources import ResourceRequest, request_from_options
from ..exceptions import InvalidManifest, VlassError
from .sites import Site


def resolve(profiles: ProfileSet | None, groups, site: Site, profile_name: str | None,
            resources: Mapping) -> ResourceRequest | None:
    """The request of a manifest's ``profile`` and ``resources`` on ``site``; the error names the manifest field."""
    if site.kind == "local":
        if resources or profile_name:
            raise InvalidManifest("manifest $.resources: the local site takes no profile or resources")
        return None
    if profiles is None or not profile_name:
        raise InvalidManifest(f"manifest $.profile: the {site.name} site needs a profile")
    profile = profiles.get(profile_name, groups=groups)
    if profile.policy is None:
        raise InvalidManifest(f"manifest $.profile: {profile.name!r} is not a Slurm profile")
    try:
        return request_from_options(profile.policy, resources)
    except VlassError as error:
        raise InvalidManifest(f"manifest $.resources: {error.message}") from None


def stored(profiles: ProfileSet | None, groups, site: Site, manifest: Mapping | None) -> ResourceRequest | None:
    """:func:`resolve` of a recorded job's manifest (validated when the job was submitted)."""
    manifest = manifest or {}
    return resolve(profiles, groups, site, manifest.get("profile"), manifest.get("resources") or {})


def shown(request: ResourceRequest | None) -> dict:
    """The job document's ``request`` and ``walltime_s`` (its limit); None for none."""
    return {"request": request.to_json() if request else None,
            "walltime_s": float(request.walltime.to_value(u.s)) if request else None}
