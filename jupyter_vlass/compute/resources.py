"""Typed resource requests: what a user may ask a site for, parsed and bounded field by field.

Every value a person can type (spawn form, REST body, CLI) passes through :func:`request_from_options`:
unknown keys are refused, each field is matched against a strict pattern before it is parsed, and
the result is bounded by the partition's limits. Memory and walltime are astropy ``Quantity``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import astropy.units as u

from ..exceptions import InvalidRequest
from ..patterns import PLAIN_NAME

MAX_FIELD_LENGTH = 64
USER_FIELDS = ("partition", "gpu_type", "gpus", "cpus", "memory", "nodes", "walltime", "image")

_INTEGER = re.compile(r"^[0-9]{1,4}$")
_MEMORY = re.compile(r"^([0-9]{1,7}(?:\.[0-9]{1,3})?)\s?([KMGT])(i?B)?$", re.IGNORECASE)
_CLOCK = re.compile(r"^(?:([0-9]{1,3})-)?([0-9]{1,3})(?::([0-5][0-9]))?(?::([0-5][0-9]))?$")
_DURATION = re.compile(r"^([0-9]{1,5}(?:\.[0-9]{1,3})?)\s?(d|h|hr|hours?|min|minutes?)$", re.IGNORECASE)
_MEMORY_UNITS = {"K": u.KiB, "M": u.MiB, "G": u.GiB, "T": u.TiB}


def parse_memory(text: str, *, field_name: str = "memory") -> u.Quantity:
    """``"32G"``, ``"32 GB"``, ``"512M"``, ``"1.5T"`` -> Quantity in GiB (Slurm's units are binary)."""
    match = _MEMORY.match(_text(text, field_name))
    if not match:
        raise InvalidRequest(f"{field_name}: {_show(text)} is not a memory size such as '32G' or '512M'")
    return (float(match.group(1)) * _MEMORY_UNITS[match.group(2).upper()]).to(u.GiB)


def parse_walltime(text: str, *, field_name: str = "walltime") -> u.Quantity:
    """``"4h"``, ``"90 min"``, ``"04:00:00"``, ``"1-12:00:00"`` -> Quantity in hours."""
    value = _text(text, field_name)
    match = _DURATION.match(value)
    if match:
        unit = match.group(2).lower()
        scale = u.day if unit == "d" else (u.min if unit.startswith("min") else u.hour)
        return (float(match.group(1)) * scale).to(u.hour)
    match = _CLOCK.match(value)
    if match and ":" in value:
        days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
        return ((days * 24 + hours) + minutes / 60 + seconds / 3600) * u.hour
    raise InvalidRequest(f"{field_name}: {_show(value)} is not a walltime such as '4h', '90min' or '04:00:00'")


def slurm_time(walltime: u.Quantity) -> str:
    """Walltime as Slurm's ``D-HH:MM:SS`` (rounded up to the minute)."""
    minutes = int(-(-walltime.to_value(u.min) // 1))
    days, rest = divmod(minutes, 24 * 60)
    return f"{days}-{rest // 60:02d}:{rest % 60:02d}:00"


def slurm_memory(memory: u.Quantity) -> str:
    return f"{int(-(-memory.to_value(u.MiB) // 1))}M"


@dataclass(frozen=True)
class PartitionLimits:
    """What one partition of a site offers; requests above these are refused before submission."""

    name: str
    max_walltime: u.Quantity
    max_memory: u.Quantity
    max_cpus: int
    max_nodes: int = 1
    gpu_types: tuple[str, ...] = ()
    max_gpus: int = 0  # per node
    charge_rate: float = 1.0  # service units per node-hour


@dataclass(frozen=True)
class ContainerImage:
    """An image a profile allows: its name in the form, runtime, and the digest recorded at start."""

    name: str
    runtime: str  # "apptainer" (a SIF file) or "charliecloud" (an image tarball, unpacked on the node)
    path: str
    digest: str = ""
    binds: tuple[str, ...] = ()  # host paths mounted at the same place (shared software, scratch)


@dataclass(frozen=True)
class ResourceRequest:
    partition: str
    walltime: u.Quantity
    memory: u.Quantity
    cpus: int = 1
    nodes: int = 1
    gpus: int = 0
    gpu_type: str | None = None
    image: ContainerImage | None = None

    @property
    def gres(self) -> str | None:
        if not self.gpus:
            return None
        return f"gpu:{self.gpu_type}:{self.gpus}" if self.gpu_type else f"gpu:{self.gpus}"

    @property
    def node_hours(self) -> float:
        return self.nodes * float(self.walltime.to_value(u.hour))

    @property
    def gpu_hours(self) -> float:
        return self.nodes * self.gpus * float(self.walltime.to_value(u.hour))

    def describe(self) -> str:
        gpus = f"{self.gpu_type or 'GPU'} x{self.gpus}, " if self.gpus else ""
        return (f"{self.partition}: {gpus}{self.cpus} CPU, {self.memory.to_value(u.GiB):g} GB, "
                f"{self.walltime.to_value(u.hour):g} h" + (f", {self.nodes} nodes" if self.nodes > 1 else ""))

    def to_json(self) -> dict:
        return {"partition": self.partition, "gpu_type": self.gpu_type, "gpus": self.gpus, "cpus": self.cpus,
                "memory": f"{self.memory.to_value(u.GiB):g}G", "nodes": self.nodes,
                "walltime": f"{self.walltime.to_value(u.hour):g}h",
                "image": self.image.name if self.image else None}


@dataclass(frozen=True)
class RequestPolicy:
    """A profile's defaults, which fields a user may change, and the allowed choices."""

    defaults: ResourceRequest
    user_settable: frozenset[str] = frozenset()
    partitions: Mapping[str, PartitionLimits] = field(default_factory=dict)
    images: Mapping[str, ContainerImage] = field(default_factory=dict)


def json_type(value: object) -> str:
    """How a JSON value's type reads in an error message ("null", "an array"...)."""
    names = {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array",
             dict: "an object"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def request_from_options(policy: RequestPolicy, options: Mapping[str, object]) -> ResourceRequest:
    """Apply a user's options to ``policy.defaults``; every problem names its field."""
    if not isinstance(options, Mapping):
        raise InvalidRequest("options must be an object of field: value")
    changes: dict[str, object] = {}
    for key, raw in options.items():
        if not isinstance(key, str) or key not in USER_FIELDS:
            raise InvalidRequest(f"unknown field {_show(key)}; allowed: {', '.join(sorted(policy.user_settable))}")
        if key not in policy.user_settable:
            raise InvalidRequest(f"{key}: this profile does not let users change it")
        if isinstance(raw, bool) or not isinstance(raw, (str, int)):
            raise InvalidRequest(f"{key}: expected a string or integer, got {json_type(raw)}")
        changes[key] = _parse_field(policy, key, str(raw).strip())
    request = replace(policy.defaults, **changes)
    check_limits(request, policy.partitions)
    return request


def _parse_field(policy: RequestPolicy, key: str, value: str) -> object:
    if key in ("gpus", "cpus", "nodes"):
        if not _INTEGER.match(_text(value, key)):
            raise InvalidRequest(f"{key}: {_show(value)} is not a whole number")
        return int(value)
    if key == "memory":
        return parse_memory(value)
    if key == "walltime":
        return parse_walltime(value)
    if not PLAIN_NAME.match(_text(value, key)):
        raise InvalidRequest(f"{key}: {_show(value)} is not a plain name")
    if key == "partition":
        if value not in policy.partitions:
            raise InvalidRequest(f"partition: {value!r} is not offered; choose one of {sorted(policy.partitions)}")
        return value
    if key == "image":
        if value not in policy.images:
            raise InvalidRequest(f"image: {value!r} is not offered; choose one of {sorted(policy.images)}")
        return policy.images[value]
    return value  # gpu_type: checked against the partition in check_limits


def check_limits(request: ResourceRequest, partitions: Mapping[str, PartitionLimits]) -> None:
    """Refuse a request the partition can never run, with a message naming the limit."""
    limits = partitions.get(request.partition)
    if limits is None:
        raise InvalidRequest(f"partition: {request.partition!r} is not offered")
    if request.gpus and not limits.gpu_types:
        raise InvalidRequest(f"gpus: partition {limits.name!r} has no GPUs")
    if request.gpus and request.gpu_type not in limits.gpu_types:
        raise InvalidRequest(f"gpu_type: {request.gpu_type!r} is not in partition {limits.name!r} "
                             f"(it has {', '.join(limits.gpu_types)})")
    bounds = (("gpus", request.gpus, 0, limits.max_gpus), ("cpus", request.cpus, 1, limits.max_cpus),
              ("nodes", request.nodes, 1, limits.max_nodes))
    for name, value, low, high in bounds:
        if not low <= value <= high:
            raise InvalidRequest(f"{name}: {value} is outside {low}..{high} for partition {limits.name!r}")
    if not 0 * u.hour < request.walltime <= limits.max_walltime:
        raise InvalidRequest(f"walltime: {request.walltime.to_value(u.hour):g} h is above partition "
                             f"{limits.name!r}'s maximum of {limits.max_walltime.to_value(u.hour):g} h")
    if not 0 * u.GiB < request.memory <= limits.max_memory:
        raise InvalidRequest(f"memory: {request.memory.to_value(u.GiB):g} GB is above partition "
                             f"{limits.name!r}'s maximum of {limits.max_memory.to_value(u.GiB):g} GB")


def _text(value: object, field_name: str) -> str:
    text = str(value)
    if len(text) > MAX_FIELD_LENGTH:
        raise InvalidRequest(f"{field_name}: value is {len(text)} characters long (at most {MAX_FIELD_LENGTH})")
    return text


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "...'"
