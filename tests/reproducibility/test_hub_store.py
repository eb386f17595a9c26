"""The hub's capsule store, in this process: a capsule sent as an archive is taken in only when it verifies with
the site's keys and names its sender as the run's agent; hostile archives are refused whole; the lineage a mark
follows. (The service and users' servers in front of it: tests/spawners/test_hub_jobs.py.)"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from jupyter_vlass.exceptions import Forbidden
from jupyter_vlass.jobs.archive import BadArchive, pack, unpack
from jupyter_vlass.reproducibility.capsule import CapsuleChanged, publish
from jupyter_vlass.reproducibility.keys import Keyring, UnknownKey
from jupyter_vlass.reproducibility.store import CapsuleStore
from tests.reproducibility.test_capsules import done_job  # noqa: F401  (a fixture)

pytestmark = pytest.mark.timeout(300)


def tar_of(*members: tuple[tarfile.TarInfo, bytes | None]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


def test_an_archive_comes_back_as_the_same_files(tmp_path):
    source = tmp_path / "capsule"
    (source / "outputs" / "deep").mkdir(parents=True)
    (source / "notebook.ipynb").write_bytes(b"{}")
    (source / "outputs" / "deep" / "table.ecsv").write_bytes(bytes(range(256)) * 100)
    written = unpack(pack(source), tmp_path / "copy")
    assert sorted(written) == ["notebook.ipynb", "outputs/deep/table.ecsv"]
    for name in written:
        assert (tmp_path / "copy" / name).read_bytes() == (source / name).read_bytes()
        assert (tmp_path / "copy" / name).stat().st_mode & 0o077 == 0  # the receiver's alone


@pytest.mark.parametrize("hostile", [
    [(member("outputs/x", tarfile.SYMTYPE, "/etc/passwd"), None)],
    [(member("outputs/x", tarfile.LNKTYPE, "/etc/passwd"), None)],
    [(member("../escaped"), b"x")],
    [(member("/tmp/absolute"), b"x")],
    [(member("outputs/./x"), b"x")],
    [(member("a"), b"x"), (member("a"), b"y")],
    [(member("dev", tarfile.CHRTYPE), None)],
    [(member("fifo", tarfile.FIFOTYPE), None)],
], ids=["symlink", "hardlink", "dotdot", "absolute", "dot", "twice", "device", "fifo"])
def test_a_hostile_archive_is_refused_whole(tmp_path, hostile):
    outside = sorted(tmp_path.parent.iterdir())
    with pytest.raises(BadArchive):
        unpack(tar_of(*hostile), tmp_path / "target")
    assert sorted(tmp_path.parent.iterdir()) == outside and not (tmp_path / "escaped").exists()
    assert not (tmp_path / "target").exists() or not any(p.is_symlink() for p in (tmp_path / "target").rglob("*"))


def test_not_a_tar_and_a_link_in_the_folder_are_refused(tmp_path):
    with pytest.raises(BadArchive, match="not a tar archive"):
        unpack(b"\x00not a tar" * 100, tmp_path / "t")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "x").symlink_to("/etc/passwd")
    with pytest.raises(BadArchive, match="symbolic link"):
        pack(tmp_path / "c")


def test_the_hub_takes_a_capsule_only_signed_by_its_key_for_its_sender(done_job, tmp_path):
    site = Keyring(tmp_path / "site-keys")
    capsule = publish(done_job, store=tmp_path / "alice", keyring=site)
    hub = CapsuleStore(tmp_path / "hub")
    archive = pack(capsule.path)

    with pytest.raises(Forbidden, match="names alice, you are mallory"):
        hub.receive(archive, keyring=site, user="mallory")
    taken = hub.receive(archive, keyring=site, user="alice")
    assert taken == {"capsule_id": capsule.capsule_id, "key_id": capsule.key_id, "new": True}
    assert hub.receive(archive, keyring=site, user="alice")["new"] is False  # content-identified: kept as it was
    assert [a["id"] for a in hub.list()] == [capsule.capsule_id]
    assert (hub.path(capsule.capsule_id) / "notebook.ipynb").read_bytes() == (capsule.path / "notebook.ipynb").read_bytes()

    elsewhere = publish(done_job, store=tmp_path / "other-site", keyring=Keyring(tmp_path / "other-keys"))
    with pytest.raises(UnknownKey):
        hub.receive(pack(elsewhere.path), keyring=site, user="alice")
    changed = tmp_path / "changed"
    unpack(archive, changed)
    output = next(p for p in (changed / "outputs").rglob("*") if p.is_file())
    output.write_bytes(output.read_bytes() + b" ")
    with pytest.raises(CapsuleChanged):
        hub.receive(pack(changed), keyring=site, user="alice")
    assert sorted(p.name for p in (tmp_path / "hub").iterdir()) == [capsule.capsule_id]  # nothing half-written


def test_a_capsules_lineage_names_its_parents_and_the_versions_they_read(done_job, tmp_path):
    from jupyter_vlass.review.review import Review
    from jupyter_vlass.store import make_engine, session_factory

    store = CapsuleStore(tmp_path / "capsules")
    capsule = publish(done_job, store=store, keyring=Keyring(tmp_path / "keys"))
    [pin] = store.show(capsule.capsule_id)["inputs"]
    assert store.lineage(capsule.capsule_id) == [f"{pin['id']}@{pin['version']}"]
    assert store.lineage("f" * 64) == []

    review = Review(session_factory(make_engine("sqlite://")))
    review.mark(subject=f"{pin['id']}@{pin['version']}", mark="Updated", explanation="recalibrated", by="admin")
    review.mark(subject=f"capsule:{capsule.capsule_id}", mark="Retracted", explanation="wrong", by="admin")
    subject = f"capsule:{capsule.capsule_id}"
    assert [m["mark"] for m in review.marks(subject)] == ["Retracted"]
    inherited = review.marks(subject, store.lineage(capsule.capsule_id))
    assert [(m["mark"], m["because"]) for m in inherited] == [
        ("Retracted", None), ("Updated", f"{pin['id']}@{pin['version']}")]
