"""A user's first start: the examples merged into their home without ever overwriting an edit, and the
sample sources registered into an empty registry once."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from jupyter_vlass.federation.region import Region
from jupyter_vlass.federation.registry import Registry
from jupyter_vlass.onboarding import STATE_FILE, merge_examples, seed_sample
from jupyter_vlass.sample_data import SampleDataError
from tests.services import REPO

SHIPPED = sorted(p.name for p in (REPO / "notebooks").glob("*.ipynb"))


@pytest.fixture
def shipped(tmp_path):
    folder = tmp_path / "shipped"
    folder.mkdir()
    for name in SHIPPED:
        shutil.copy(REPO / "notebooks" / name, folder / name)
    return folder


def test_examples_are_copied_then_updated_unless_the_user_edited_them(shipped, tmp_path):
    home, state = tmp_path / "home" / "vlass-examples", tmp_path / "state"
    first = merge_examples(shipped, home, state_dir=state)
    assert first.copied == SHIPPED and not first.updated and not first.kept
    assert all((home / n).read_bytes() == (shipped / n).read_bytes() for n in SHIPPED)

    edited, untouched, deleted = SHIPPED[0], SHIPPED[1], SHIPPED[2]
    (home / edited).write_text((home / edited).read_text().replace("VLASS", "VLASS (my note)", 1))
    mine = (home / edited).read_bytes()
    (home / deleted).unlink()
    for name in (edited, untouched):  # a new release of the examples
        (shipped / name).write_text((shipped / name).read_text().replace("VLASS", "VLASS (v2)", 1))

    second = merge_examples(shipped, home, state_dir=state)
    assert second.kept == [edited] and second.updated == [untouched] and second.copied == [deleted]
    assert (home / edited).read_bytes() == mine  # the user's edit is never overwritten
    assert (home / untouched).read_bytes() == (shipped / untouched).read_bytes()
    assert (home / deleted).read_bytes() == (shipped / deleted).read_bytes()
    # nothing changed since: a third start does nothing but keep the edited one
    third = merge_examples(shipped, home, state_dir=state)
    assert third.kept == [edited] and not third.copied and not third.updated
    assert json.loads((state / STATE_FILE).read_text())["examples"].keys() == set(SHIPPED)


def test_a_link_in_the_users_folder_is_never_written_through(shipped, tmp_path):
    home, state = tmp_path / "home", tmp_path / "state"
    home.mkdir()
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("not a notebook")
    os.symlink(elsewhere, home / SHIPPED[0])
    merged = merge_examples(shipped, home, state_dir=state)
    assert SHIPPED[0] in merged.kept and elsewhere.read_text() == "not a notebook"
    assert (home / SHIPPED[0]).is_symlink()


def test_the_sample_is_seeded_once_into_an_empty_registry(sample_data, tmp_path):
    sample = sample_data["vlass"].parent
    registry = Registry(f"sqlite:///{tmp_path / 'r.sqlite'}")
    reports = seed_sample(registry, sample, state_dir=tmp_path / "state")
    assert {r.source for r in reports} == {"vlass", "cosmicai", "tacc"}
    assert all(r.status == "ok" for r in reports), reports
    found = registry.search(Region.from_degrees(209.25, -18.0, 0.5))
    assert any(h.dataset_id.startswith("vlass:VLASS2.2") for h in found), [h.dataset_id for h in found]

    registry.remove_source("tacc")  # the user removed one: not given again at the next start
    assert seed_sample(registry, sample, state_dir=tmp_path / "state") == []
    assert "tacc" not in {s["name"] for s in registry.sources()}

    other = Registry(f"sqlite:///{tmp_path / 'other.sqlite'}")  # a user who already has sources of their own
    other.add_source("mine", "posix", str(sample / "tacc" / "manifest.json"))
    assert seed_sample(other, sample, state_dir=tmp_path / "state-other") == []
    assert {s["name"] for s in other.sources()} == {"mine"}


def test_a_folder_that_is_not_a_sample_is_refused_and_nothing_is_added(tmp_path):
    registry = Registry(f"sqlite:///{tmp_path / 'r.sqlite'}")
    with pytest.raises(SampleDataError, match="not a sample-data folder"):
        seed_sample(registry, tmp_path, state_dir=tmp_path / "state")
    assert registry.sources() == []
    assert not (tmp_path / "state" / STATE_FILE).exists()
