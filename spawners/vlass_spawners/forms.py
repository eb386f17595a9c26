"""The spawn form: rendered from a Jinja2 template with autoescaping, read back field by field. Each field says
its limits; with JavaScript only the chosen profile's fields show (without it, all do, and only the chosen
profile's are read back)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache

import astropy.units as u
import jinja2

from jupyter_vlass.compute.ledger import Balance
from jupyter_vlass.compute.profiles import Profile, ProfileSet
from jupyter_vlass.compute.resources import USER_FIELDS

LABELS = {"partition": "Partition", "gpu_type": "GPU type", "gpus": "GPUs", "cpus": "CPUs",
          "memory": "Memory (e.g. 8G)", "nodes": "Nodes", "walltime": "Walltime (e.g. 4h or 01:30:00)",
          "image": "Container image"}


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(loader=jinja2.PackageLoader("vlass_spawners", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    return env.get_template("options_form.html.j2")


def limits_of(profile: Profile) -> dict[str, str]:
    """What each field of ``profile`` may be, from its partition's limits (the spawner refuses the rest)."""
    if profile.policy is None:
        return {}
    policy = profile.policy
    limits = policy.partitions.get(policy.defaults.partition)
    hints = {"partition": "one of " + ", ".join(sorted(policy.partitions)),
             "image": "one of " + ", ".join(sorted(policy.images)) if policy.images else "none offered"}
    if limits is not None:
        hints.update(gpus=f"0 to {limits.max_gpus} per node", cpus=f"1 to {limits.max_cpus}",
                     nodes=f"1 to {limits.max_nodes}", walltime=f"up to {limits.max_walltime.to_value(u.hour):g} h",
                     memory=f"up to {limits.max_memory.to_value(u.GiB):g} GB")
    return hints


def render_form(profiles: list[Profile], *, balances: Iterable[Balance] = (), approvals: Iterable = (),
                estimates: Mapping[str, str] | None = None, profiles_error: str | None = None) -> str:
    defaults = {p.name: (p.policy.defaults.to_json() if p.policy else {}) for p in profiles}
    return _template().render(profiles=profiles, fields=USER_FIELDS, labels=LABELS, defaults=defaults,
                              limits={p.name: limits_of(p) for p in profiles},
                              balances=list(balances), approvals=list(approvals), estimates=estimates or {},
                              profiles_error=profiles_error)


def options_from_form(formdata: Mapping[str, list[str]], profiles: ProfileSet) -> dict[str, str]:
    """``{"profile": name, field: value}`` for the chosen profile's non-empty fields only.

    Values are passed on as text; the spawner parses and bounds them (the REST API gets the same checks).
    """
    name = (formdata.get("profile") or [""])[0]
    options = {"profile": name}
    prefix = f"{name}."
    for key, values in formdata.items():
        if key.startswith(prefix) and values and values[0].strip():
            options[key[len(prefix):]] = values[0].strip()
    return options
