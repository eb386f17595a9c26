"""A notebook server inside a real Charliecloud container (ch-run, unprivileged) in a Slurm job.

The image is a skeleton root filesystem made here (directories, symlinks, empty files; no data): the
software comes from the host's /usr and the job environment, bound in, as HPC sites bind shared
software into Charliecloud images. Its tarball's SHA-256 is pinned in the profiles and checked in the job.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
from pathlib import Path

import pytest
import yaml

from tests.hub import JOB_ENV
from tests.services import require

pytestmark = pytest.mark.timeout(300)
IMAGES = Path("/srv/vlass-test-images")


def _skeleton_tarball() -> Path:
    IMAGES.mkdir(parents=True, exist_ok=True)
    os.chmod(IMAGES, 0o755)
    target = IMAGES / "skeleton.tar"
    with tarfile.open(target, "w") as tar:
        for folder in ("usr", "etc", "opt/vlass-jobenv", "home", "tmp", "proc", "dev", "sys", "run", "var/tmp",
                       "mnt", "root"):
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if folder in ("tmp", "var/tmp") else 0o755
            tar.addfile(info)
        for link, to in (("bin", "usr/bin"), ("lib", "usr/lib"), ("lib64", "usr/lib64"), ("sbin", "usr/sbin")):
            info = tarfile.TarInfo(link)
            info.type, info.linkname = tarfile.SYMTYPE, to
            tar.addfile(info)
        for name in ("passwd", "group", "hosts", "resolv.conf", "machine-id"):
            info = tarfile.TarInfo(f"etc/{name}")
            info.size, info.mode = 0, 0o644
            tar.addfile(info, io.BytesIO(b""))
    os.chmod(target, 0o644)
    return target


@pytest.fixture
def container_profiles(hub):
    require(shutil.which("ch-run") is not None, "Charliecloud (ch-run, Debian charliecloud-runtime)")
    tarball = _skeleton_tarball()
    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
    original = hub.profiles.read_text()
    document = yaml.safe_load(original)
    binds = ["/usr", str(JOB_ENV)]
    document["images"] = {
        "skeleton": {"runtime": "charliecloud", "path": str(tarball), "sha256": digest, "binds": binds},
        "tampered": {"runtime": "charliecloud", "path": str(tarball), "sha256": "0" * 64, "binds": binds}}
    for image in ("skeleton", "tampered"):
        document["profiles"].append({
            "name": f"tacc-cpu-{image}", "display_name": f"CPU in the {image} container", "kind": "slurm",
            "request": {"partition": "cpu", "memory": "2G", "walltime": "1h", "image": image}})
    hub.profiles.write_text(yaml.safe_dump(document))
    yield digest
    hub.profiles.write_text(original)


def test_server_runs_in_the_pinned_container_and_a_tampered_image_is_refused(hub, container_profiles):
    name = hub.user("vlt-grace")  # its own user: a failed spawn changes JupyterHub's later status codes
    assert hub.spawn(name, {"profile": "tacc-cpu-skeleton"}).status_code in (201, 202)
    server = hub.wait_ready(name)
    log_path = server["state"]["child_state"]["log_path"]
    out = hub.run_in_kernel(name, "import os; print(os.environ.get('CH_RUNNING', 'no'), os.getuid() != 0, "
                                  "'vlass-image' in open('/proc/self/mountinfo').read())", hub.token_for(name))
    assert out.split() == ["Weird", "Al", "Yankovic", "True", "True"], out
    assert f"container skeleton sha256:{container_profiles}" in Path(log_path).read_text()
    hub.stop_server(name)

    response = hub.spawn(name, {"profile": "tacc-cpu-tampered"})
    message = response.json()["message"] if response.status_code == 500 else hub.events(name, until="ended")[-1][
        "message"]
    assert "ended (FAILED)" in message, message
    bad_log = message.split("see ")[-1].rstrip(".")
    assert "does not match its recorded digest" in Path(bad_log).read_text()
    hub.wait_stopped(name)
