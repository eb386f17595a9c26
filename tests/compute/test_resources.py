"""Typed resource requests: parsing, bounds, and refusal of hostile values (no scheduler needed)."""

import astropy.units as u
import pytest

from jupyter_vlass.compute.profiles import load_profiles
from jupyter_vlass.compute.resources import parse_memory, parse_walltime, request_from_options, slurm_memory, slurm_time
from jupyter_vlass.exceptions import InvalidRequest
from tests.services import REPO


@pytest.fixture(scope="module")
def policy():
    return load_profiles(REPO / "hub_config" / "profiles.yaml").get("tacc-a100").policy


@pytest.mark.parametrize("text, gib", [("32G", 32), ("32 GB", 32), ("512M", 0.5), ("1.5T", 1536), ("2GiB", 2)])
def test_memory_units(text, gib):
    assert parse_memory(text).to_value(u.GiB) == pytest.approx(gib)


@pytest.mark.parametrize("text, hours", [("4h", 4), ("90min", 1.5), ("04:00:00", 4), ("1-12:00:00", 36),
                                         ("2 hours", 2), ("0:30", 0.5), ("1d", 24)])
def test_walltime_forms(text, hours):
    assert parse_walltime(text).to_value(u.hour) == pytest.approx(hours)


def test_slurm_renderings():
    assert slurm_time(1.5 * u.hour) == "0-01:30:00" and slurm_time(36 * u.hour) == "1-12:00:00"
    assert slurm_memory(2 * u.GiB) == "2048M"


def test_options_override_defaults_within_bounds(policy):
    request = request_from_options(policy, {"gpus": "2", "walltime": "90min", "memory": "4G", "cpus": 2})
    assert (request.gpus, request.cpus, request.partition, request.gres) == (2, 2, "gpu-a100", "gpu:a100:2")
    assert request.gpu_hours == pytest.approx(3.0) and request.memory == 4 * u.GiB


@pytest.mark.parametrize("options, field", [
    ({"gpus": "1\n#SBATCH --uid=0"}, "gpus"), ({"walltime": "$(reboot)"}, "walltime"),
    ({"memory": "`id`"}, "memory"), ({"cpus": "1;id"}, "cpus"), ({"memory": "8G" * 100}, "memory"),
    ({"gpus": True}, "gpus"), ({"gpus": ["1"]}, "gpus"), ({"script": "x"}, "unknown field 'script'"),
    ({"nodes": "1"}, "nodes"), ({"gpus": "3"}, "gpus"), ({"walltime": "9h"}, "walltime"),
    ({"memory": "0G"}, "memory"), ({"cpus": "0"}, "cpus"), ({"gpus": "-1"}, "gpus"),
])
def test_bad_values_are_refused_naming_the_field(policy, options, field):
    with pytest.raises(InvalidRequest) as error:
        request_from_options(policy, options)
    assert error.value.message.startswith(field) or field in error.value.message
    assert error.value.status == 400


def test_options_must_be_a_mapping(policy):
    with pytest.raises(InvalidRequest):
        request_from_options(policy, ["gpus", "1"])
