"""The admins' profiles YAML: named fields, errors that say where, reload on change."""

import os
import time

import pytest
import yaml

from jupyter_vlass.compute.profiles import ProfileFile, load_profiles, parse_profiles
from jupyter_vlass.exceptions import InvalidProfiles, InvalidRequest
from tests.services import REPO

SHIPPED = REPO / "hub_config" / "profiles.yaml"


def _doc():
    return yaml.safe_load(SHIPPED.read_text())


def test_shipped_profiles_load_with_group_visibility():
    profiles = load_profiles(SHIPPED)
    assert [p.name for p in profiles.visible_to([])] == ["local", "tacc-a100", "tacc-cpu"]
    assert "tacc-a100-x2" in [p.name for p in profiles.visible_to(["gpu-power-users"])]
    assert profiles.partitions["gpu-a100"].charge_rate == 4.0 and profiles.approval_threshold_gpu_hours == 8
    with pytest.raises(InvalidRequest, match="not one of your profiles"):
        profiles.get("tacc-a100-x2", groups=["astro"])


@pytest.mark.parametrize("edit, where", [
    (lambda d: d["partitions"]["gpu-a100"].update(max_cpus="eight"), "partitions.gpu-a100.max_cpus"),
    (lambda d: d["profiles"][1]["request"].update(memory="32 parsecs"), "profiles[1].request.memory"),
    (lambda d: d["profiles"][1]["request"].update(memroy="1G"), "profiles[1].request.memroy: unknown key"),
    (lambda d: d["profiles"][1]["request"].update(gpus=3), "profiles[1].request: gpus: 3 is outside"),
    (lambda d: d["profiles"][1].update(kind="docker"), "profiles[1].kind"),
    (lambda d: d["profiles"][1].update(user_settable=["script"]), "profiles[1].user_settable"),
    (lambda d: d["profiles"][2].update(name="tacc-a100"), "used twice"),
    (lambda d: d["profiles"][0].update(request={"partition": "cpu"}), "profiles[0]: a local profile"),
    (lambda d: d.update(profiles=[]), "profiles: expected a non-empty list"),
    (lambda d: d["profiles"][1]["request"].update(partition="gpu-h100"), "not defined under partitions"),
    (lambda d: d.update(images={"x": {"runtime": "charliecloud", "path": "/i.tar", "sha256": "a" * 64,
                                      "binds": ["usr"]}}), "images.x.binds"),
    (lambda d: d.update(images={"x": {"runtime": "docker", "path": "/i.tar", "sha256": "a" * 64}}),
     "images.x.runtime"),
    (lambda d: d["profiles"][1]["request"].update(image="nope"), "profiles[1].request.image"),
])
def test_errors_name_their_place(edit, where):
    document = _doc()
    edit(document)
    with pytest.raises(InvalidProfiles) as error:
        parse_profiles(document, source="profiles.yaml")
    assert where in error.value.message and error.value.message.startswith("profiles.yaml: ")


def test_file_is_reread_on_change_and_a_bad_edit_keeps_the_last_good(tmp_path):
    path = tmp_path / "profiles.yaml"
    path.write_text(SHIPPED.read_text())
    file = ProfileFile(path)
    assert len(file.current().profiles) == 4
    document = _doc()
    document["profiles"].pop()
    path.write_text(yaml.safe_dump(document))
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    assert len(file.current().profiles) == 3 and file.error is None
    path.write_text("profiles: [")
    assert len(file.current().profiles) == 3 and "not valid YAML" in file.error
    with pytest.raises(InvalidProfiles):
        ProfileFile(path).current()
