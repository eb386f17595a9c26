"""Render the batch script of a notebook server job from the packaged Jinja2 template.

Only typed, validated values reach the template: the :class:`ResourceRequest`, names checked against
strict patterns, and argv items that are shell-quoted. A spawn request's keys never do.
"""

from __future__ import annotations

import importlib.resources
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import jinja2

from ..exceptions import InvalidRequest
from ..patterns import PLAIN_NAME, SHA256
from .resources import ResourceRequest, slurm_memory, slurm_time

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9_./%@+-]{0,1000}$")


@dataclass(frozen=True)
class JobSpec:
    """Everything a server job needs besides the request; set by the hub's config, then checked here."""

    job_name: str
    output_path: str  # may contain Slurm's %j
    workdir: str
    command: Sequence[str]
    export_vars: Sequence[str]
    environment: str = ""  # a virtual environment to activate in the job
    account: str = ""
    report_port: bool = False  # run ``command`` through :mod:`.report_port` (carried in the script)


@cache
def _report_port_code() -> str:
    code = importlib.resources.files(__package__).joinpath("report_port.py").read_text()
    if "VLASS_REPORT_PORT_END" in code:  # the here-document's delimiter in the template
        raise RuntimeError("report_port.py must not contain the line that ends its here-document")
    return code


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(loader=jinja2.PackageLoader("jupyter_vlass.compute", "templates"),
                             undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.filters["shell"] = lambda value: shlex.quote(str(value))
    return env.get_template("jupyter.sbatch.j2")


def _check(pattern: re.Pattern, value: str, what: str) -> str:
    if not isinstance(value, str) or not pattern.match(value) or "\n" in value:
        raise InvalidRequest(f"{what}: {str(value)[:40]!r} is not allowed in a batch script")
    return value


def render_batch_script(request: ResourceRequest, spec: JobSpec) -> str:
    _check(PLAIN_NAME, spec.job_name, "job name")
    _check(_SAFE_PATH, spec.output_path, "output path")
    _check(_SAFE_PATH, spec.workdir, "working directory")
    if spec.environment:
        _check(_SAFE_PATH, spec.environment, "environment")
    if spec.account:
        _check(PLAIN_NAME, spec.account, "account")
    for name in spec.export_vars:
        _check(_ENV_NAME, name, "exported variable")
    if not spec.command or any(not isinstance(a, str) or "\n" in a for a in spec.command):
        raise InvalidRequest("command: must be a non-empty list of single-line strings")
    image = request.image
    if image is not None:
        _check(SHA256, image.digest, f"image {image.name} digest")
        _check(_SAFE_PATH, image.path, f"image {image.name} path")
        for bind in image.binds:
            _check(_SAFE_PATH, bind, f"image {image.name} bind")
        if image.runtime not in ("apptainer", "charliecloud"):
            raise InvalidRequest(f"image {image.name}: runtime must be apptainer or charliecloud")
    return _template().render(
        request=request, job_name=spec.job_name, output_path=spec.output_path, workdir=spec.workdir,
        export_vars=list(spec.export_vars), environment=spec.environment, account=spec.account,
        command=list(spec.command), image=image, time=slurm_time(request.walltime),
        memory=slurm_memory(request.memory), report_port=_report_port_code() if spec.report_port else "")
