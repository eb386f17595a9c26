"""The batch script holds only validated values; nothing a user sends reaches it as text."""

import pytest

from jupyter_vlass.compute.batch import JobSpec, render_batch_script
from jupyter_vlass.compute.profiles import load_profiles
from jupyter_vlass.compute.resources import ContainerImage, request_from_options
from jupyter_vlass.exceptions import InvalidRequest
from tests.services import REPO

SPEC = JobSpec(job_name="jupyterhub-vlass", output_path="/home/u/jupyterhub-vlass-%j.log", workdir="/home/u",
               command=["batchspawner-singleuser", "jupyterhub-singleuser", "--arg=it's"],
               export_vars=["JUPYTERHUB_API_TOKEN", "HOME"], environment="/opt/vlass-jobenv", account="astro")


@pytest.fixture(scope="module")
def request_():
    policy = load_profiles(REPO / "hub_config" / "profiles.yaml").get("tacc-a100").policy
    return request_from_options(policy, {"gpus": "2", "walltime": "90min"})


def test_directives_come_from_the_typed_request(request_):
    script = render_batch_script(request_, SPEC)
    directives = [line for line in script.splitlines() if line.startswith("#SBATCH")]
    assert "#SBATCH --gres=gpu:a100:2" in directives and "#SBATCH --time=0-01:30:00" in directives
    assert "#SBATCH --export=JUPYTERHUB_API_TOKEN,HOME" in directives and "#SBATCH --account=astro" in directives
    assert "srun batchspawner-singleuser jupyterhub-singleuser '--arg=it'\"'\"'s'" in script


@pytest.mark.parametrize("change", [
    {"account": "astro\n#SBATCH --uid=0"}, {"export_vars": ["A;B"]}, {"workdir": "/home/u $(id)"},
    {"output_path": "relative.log"}, {"command": ["ok", "two\nlines"]}, {"job_name": "-x"},
])
def test_hub_side_values_are_checked_too(request_, change):
    with pytest.raises(InvalidRequest):
        render_batch_script(request_, JobSpec(**{**SPEC.__dict__, **change}))


def test_container_image_is_verified_by_digest(request_):
    image = ContainerImage("astro", "apptainer", "/opt/images/astro.sif", "a" * 64)
    script = render_batch_script(request_.__class__(**{**request_.__dict__, "image": image}), SPEC)
    assert f"echo '{'a' * 64}  /opt/images/astro.sif' | sha256sum --check --status" in script
    assert "srun apptainer exec --nv /opt/images/astro.sif batchspawner-singleuser" in script
    bad = ContainerImage("astro", "apptainer", "/opt/images/astro.sif", "not-a-digest")
    with pytest.raises(InvalidRequest):
        render_batch_script(request_.__class__(**{**request_.__dict__, "image": bad}), SPEC)
