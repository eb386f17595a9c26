"""Spawn profiles that hub admins manage in one YAML file, validated on load with named fields.

The file (see ``hub_config/profiles.yaml``) has ``partitions``, optional ``images``,
``approval_threshold_gpu_hours`` and a list of ``profiles``. Each error says where it is, e.g.
``profiles[2].request.memory: '32 parsecs' is not a memory size``. :class:`ProfileFile` re-reads the
file when it changes and keeps the last good version if an edit does not validate.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..exceptions import InvalidProfiles, InvalidRequest
from ..patterns import SHA256
from .resources import (ContainerImage, PartitionLimits, RequestPolicy, ResourceRequest, USER_FIELDS, check_limits,
                        json_type, parse_memory, parse_walltime)

log = logging.getLogger(__name__)
KINDS = ("slurm", "local")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_TOP_KEYS = {"site", "approval_threshold_gpu_hours", "partitions", "images", "profiles"}
_PARTITION_KEYS = {"max_walltime", "max_memory", "max_cpus", "max_nodes", "gpu_types", "max_gpus", "charge_rate"}
_IMAGE_KEYS = {"runtime", "path", "sha256", "binds"}
_PROFILE_KEYS = {"name", "display_name", "description", "kind", "groups", "request", "user_settable", "images"}
_REQUEST_KEYS = {"partition", "gpu_type", "gpus", "cpus", "memory", "nodes", "walltime", "image"}


@dataclass(frozen=True)
class Profile:
    name: str
    display_name: str
    kind: str
    description: str = ""
    groups: frozenset[str] = frozenset()  # empty: everyone
    policy: RequestPolicy | None = None  # None for the local profile

    def visible_to(self, groups: Iterable[str]) -> bool:
        return not self.groups or bool(self.groups & set(groups))


@dataclass(frozen=True)
class ProfileSet:
    site: str
    approval_threshold_gpu_hours: float
    partitions: Mapping[str, PartitionLimits]
    profiles: tuple[Profile, ...]
    images: Mapping[str, ContainerImage] = field(default_factory=dict)

    def visible_to(self, groups: Iterable[str]) -> list[Profile]:
        groups = set(groups)
        return [p for p in self.profiles if p.visible_to(groups)]

    def get(self, name: str, *, groups: Iterable[str] | None = None) -> Profile:
        for profile in self.profiles:
            if profile.name == name and (groups is None or profile.visible_to(groups)):
                return profile
        raise InvalidRequest(f"profile: {str(name)[:64]!r} is not one of your profiles")

    def choose(self, options: object, *, groups: Iterable[str]) -> Profile:
        """The profile a spawn request names (the first visible one when it names none).

        Refuses, naming the field, a body that is not an object, a profile that is not a name of
        the user's profiles, and any option a ``local`` profile cannot take (a Slurm profile's
        spawner checks its own fields).
        """
        if not isinstance(options, Mapping):
            raise InvalidRequest(f"the spawn options must be an object, got {type(options).__name__}")
        visible = self.visible_to(groups)
        if not visible:
            raise InvalidRequest("profile: no profile is offered to you")
        name = options.get("profile")
        if name is None or name == "":
            profile = visible[0]
        elif not isinstance(name, str):
            raise InvalidRequest(f"profile: expected a profile name (a string), got {json_type(name)}")
        else:
            profile = self.get(name, groups=groups)
        if profile.kind == "local":
            unknown = sorted(str(k) for k in options if k != "profile")
            if unknown:
                raise InvalidRequest(f"{unknown[0][:64]}: unknown field; the profile {profile.name!r} takes no options")
        return profile


def _keys(where: str, value: object, allowed: set[str], required: Iterable[str] = ()) -> dict:
    if not isinstance(value, dict):
        raise InvalidProfiles(f"{where}: expected a mapping, got {type(value).__name__}")
    unknown = sorted(set(map(str, value)) - allowed)
    if unknown:
        raise InvalidProfiles(f"{where}.{unknown[0]}: unknown key (allowed: {', '.join(sorted(allowed))})")
    for key in required:
        if key not in value:
            raise InvalidProfiles(f"{where}.{key}: required")
    return value


def _name(where: str, value: object) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise InvalidProfiles(f"{where}: {value!r} is not a name (lower-case letters, digits, . _ -)")
    return value


def _number(where: str, value: object, kind=int, minimum: float = 0) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
        raise InvalidProfiles(f"{where}: {value!r} is not a{'n integer' if kind is int else ' number'}")
    if value < minimum:
        raise InvalidProfiles(f"{where}: {value!r} is below {minimum}")
    return value


def _wrap(where: str, parse, value):
    try:
        return parse(str(value))
    except InvalidRequest as error:
        raise InvalidProfiles(f"{where}: {error.message.split(': ', 1)[-1]}") from None


def _partition(name: str, raw: object) -> PartitionLimits:
    where = f"partitions.{name}"
    spec = _keys(where, raw, _PARTITION_KEYS, ("max_walltime", "max_memory", "max_cpus"))
    gpu_types = spec.get("gpu_types", [])
    if not isinstance(gpu_types, list):
        raise InvalidProfiles(f"{where}.gpu_types: expected a list")
    return PartitionLimits(
        name=_name(where, name), max_walltime=_wrap(f"{where}.max_walltime", parse_walltime, spec["max_walltime"]),
        max_memory=_wrap(f"{where}.max_memory", parse_memory, spec["max_memory"]),
        max_cpus=_number(f"{where}.max_cpus", spec["max_cpus"], minimum=1),
        max_nodes=_number(f"{where}.max_nodes", spec.get("max_nodes", 1), minimum=1),
        gpu_types=tuple(_name(f"{where}.gpu_types[{i}]", t) for i, t in enumerate(gpu_types)),
        max_gpus=_number(f"{where}.max_gpus", spec.get("max_gpus", 0)),
        charge_rate=float(_number(f"{where}.charge_rate", spec.get("charge_rate", 1.0), kind=float)))


def _image(name: str, raw: object) -> ContainerImage:
    where = f"images.{name}"
    spec = _keys(where, raw, _IMAGE_KEYS, ("runtime", "path", "sha256"))
    if spec["runtime"] not in ("apptainer", "charliecloud"):
        raise InvalidProfiles(f"{where}.runtime: must be apptainer or charliecloud")
    if not SHA256.match(str(spec["sha256"])):
        raise InvalidProfiles(f"{where}.sha256: must be the image file's 64-hex-digit SHA-256")
    if not re.match(r"^/[A-Za-z0-9_./-]+$", str(spec["path"])):
        raise InvalidProfiles(f"{where}.path: must be an absolute path of plain characters")
    binds = spec.get("binds", [])
    if not isinstance(binds, list) or not all(isinstance(b, str) and re.match(r"^/[A-Za-z0-9_./-]+$", b)
                                              for b in binds):
        raise InvalidProfiles(f"{where}.binds: must be a list of absolute paths of plain characters")
    return ContainerImage(_name(where, name), spec["runtime"], spec["path"], spec["sha256"], tuple(binds))


def _request(where: str, raw: object, partitions: Mapping[str, PartitionLimits],
             images: Mapping[str, ContainerImage]) -> ResourceRequest:
    spec = _keys(where, raw, _REQUEST_KEYS, ("partition", "walltime", "memory"))
    partition = spec["partition"]
    if partition not in partitions:
        raise InvalidProfiles(f"{where}.partition: {partition!r} is not defined under partitions")
    image = spec.get("image")
    if image is not None and image not in images:
        raise InvalidProfiles(f"{where}.image: {image!r} is not defined under images")
    request = ResourceRequest(
        partition=partition, walltime=_wrap(f"{where}.walltime", parse_walltime, spec["walltime"]),
        memory=_wrap(f"{where}.memory", parse_memory, spec["memory"]),
        cpus=_number(f"{where}.cpus", spec.get("cpus", 1), minimum=1),
        nodes=_number(f"{where}.nodes", spec.get("nodes", 1), minimum=1),
        gpus=_number(f"{where}.gpus", spec.get("gpus", 0)), gpu_type=spec.get("gpu_type"),
        image=images[image] if image else None)
    try:
        check_limits(request, partitions)
    except InvalidRequest as error:
        raise InvalidProfiles(f"{where}: {error.message}") from None
    return request


def _profile(index: int, raw: object, partitions, images) -> Profile:
    where = f"profiles[{index}]"
    spec = _keys(where, raw, _PROFILE_KEYS, ("name", "display_name", "kind"))
    kind = spec["kind"]
    if kind not in KINDS:
        raise InvalidProfiles(f"{where}.kind: {kind!r} is not one of {', '.join(KINDS)}")
    groups = spec.get("groups", [])
    if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
        raise InvalidProfiles(f"{where}.groups: expected a list of JupyterHub group names")
    policy = None
    if kind == "slurm":
        if "request" not in spec:
            raise InvalidProfiles(f"{where}.request: required for a slurm profile")
        settable = spec.get("user_settable", [])
        if not isinstance(settable, list) or set(settable) - set(USER_FIELDS):
            raise InvalidProfiles(f"{where}.user_settable: each item must be one of {', '.join(USER_FIELDS)}")
        allowed_images = spec.get("images", [])
        for name in allowed_images:
            if name not in images:
                raise InvalidProfiles(f"{where}.images: {name!r} is not defined under images")
        defaults = _request(f"{where}.request", spec["request"], partitions, images)
        offered = {defaults.partition: partitions[defaults.partition]}
        policy = RequestPolicy(defaults=defaults, user_settable=frozenset(settable),
                               partitions=offered if "partition" not in settable else dict(partitions),
                               images={n: images[n] for n in allowed_images})
    elif set(spec) & {"request", "user_settable", "images"}:
        raise InvalidProfiles(f"{where}: a local profile takes no request, user_settable or images")
    return Profile(name=_name(f"{where}.name", spec["name"]), display_name=str(spec["display_name"]),
                   kind=kind, description=str(spec.get("description", "")), groups=frozenset(groups),
                   policy=policy)


def parse_profiles(document: object, *, source: str = "profiles") -> ProfileSet:
    try:
        spec = _keys(source, document, _TOP_KEYS, ("partitions", "profiles"))
        partitions = {name: _partition(str(name), raw) for name, raw in _keys("partitions", spec["partitions"],
                                                                              set(map(str, spec["partitions"]))).items()}
        raw_images = spec.get("images") or {}
        images = {str(name): _image(str(name), raw) for name, raw in _keys("images", raw_images,
                                                                           set(map(str, raw_images))).items()}
        if not isinstance(spec["profiles"], list) or not spec["profiles"]:
            raise InvalidProfiles("profiles: expected a non-empty list")
        profiles = tuple(_profile(i, raw, partitions, images) for i, raw in enumerate(spec["profiles"]))
        names = [p.name for p in profiles]
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate:
            raise InvalidProfiles(f"profiles: the name {duplicate!r} is used twice")
        threshold = float(_number("approval_threshold_gpu_hours", spec.get("approval_threshold_gpu_hours", 0),
                                  kind=float))
        return ProfileSet(site=_name("site", spec.get("site", "local")), approval_threshold_gpu_hours=threshold,
                          partitions=partitions, profiles=profiles, images=images)
    except InvalidProfiles as error:
        raise InvalidProfiles(f"{source}: {error.message}") from None


def load_profiles(path: str | Path) -> ProfileSet:
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as error:
        raise InvalidProfiles(f"{path}: cannot be read ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise InvalidProfiles(f"{path}: not valid YAML ({error})") from None
    return parse_profiles(document, source=str(path))


class ProfileFile:
    """The admins' profiles file, re-read when it changes (no hub restart)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._stamp: tuple[int, int] | None = None
        self._current: ProfileSet | None = None
        self.error: str | None = None

    def current(self) -> ProfileSet:
        try:
            stat = self.path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            stamp = None
        if stamp != self._stamp or self._current is None:
            try:
                self._current, self.error = load_profiles(self.path), None
            except InvalidProfiles as error:
                if self._current is None:
                    raise
                self.error = error.message
                log.error("keeping the previous profiles: %s", error.message)
            self._stamp = stamp
        return self._current

