"""The ``jupyter-vlass`` command as a user runs it (a real subprocess)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXE = str(Path(sys.executable).parent / "jupyter-vlass")


def cli(*args, db):
    env = {**os.environ, "JUPYTER_VLASS_DB": db}
    return subprocess.run([EXE, *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture
def db(tmp_path):
    return f"sqlite:///{tmp_path / 'cli.sqlite'}"


def test_add_sync_search_show(db, sample_data):
    assert cli("sources", "add", "vlass", "--kind", "vlass", "--uri", str(sample_data["vlass"]), db=db).returncode == 0
    assert cli("sources", "add", "curated", "--kind", "datapackage", "--uri",
               str(sample_data["package_1.0.0"].parents[2]), db=db).returncode == 0
    sync = cli("sources", "sync", "--json", db=db)
    assert sync.returncode == 0
    assert {r["source"]: r["added"] for r in json.loads(sync.stdout)} == {"curated": 2, "vlass": 5}
    found = cli("datasets", "search", "--region", "209.25,-18.0,0.5", "--json", db=db)
    doc = json.loads(found.stdout)
    assert found.returncode == 0 and len(doc["datasets"]) == 4
    assert all(d["citation"] for d in doc["datasets"])
    only = json.loads(cli("datasets", "search", "--region", "209.25,-18.0,0.5", "--sources", "vlass", "--json",
                          db=db).stdout)
    assert {d["source"] for d in only["datasets"]} == {"vlass"}
    text = cli("datasets", "show", "vlass:VLASS2.2.ql.T08t20.J135700-180000", db=db)
    assert text.returncode == 0 and "latest v2" in text.stdout and "used by curated:" in text.stdout
    listing = cli("sources", "list", db=db)
    assert "vlass" in listing.stdout and "5 datasets" in listing.stdout


@pytest.mark.parametrize("args, message", [
    (("datasets", "search", "--region", "360,0,1"), "RA must be in [0, 360)"),
    (("datasets", "search", "--region", "1,2"), "RA,DEC,RADIUS"),
    (("datasets", "search", "--region", "1,2,3", "--sources", "ghost"), "no source named 'ghost'"),
    (("datasets", "show", "vlass:missing"), "no dataset"),
    (("sources", "add", "x", "--kind", "warp", "--uri", "."), "unknown source kind"),
    (("sources", "add", "x", "--kind", "vlass", "--uri", "http://"), "bad URL"),
    (("sources", "add", "x", "--kind", "vlass", "--uri", ".", "--option", "novalue"), "KEY=VALUE"),
    (("sources", "add", "x", "--kind", "sia2", "--uri", "http://example.invalid/sia2", "--option", "rate_limit=1/s",
      "--option", "burst=abc"), "option burst: must be a number above 0"),
    (("sources", "add", "x", "--kind", "s3manifest", "--uri", "s3://bucket/manifest.json", "--option", "anon=maybe"),
     "option anon: must be true or false"),
    (("sources", "add", "x", "--kind", "sia2", "--uri", "http://example.invalid/sia2", "--option", "maxrec=-3"),
     "option maxrec: must be a number above 0"),
    (("sources", "add", "x", "--kind", "vlass", "--uri", ".", "--option", "colour=blue"),
     "option 'colour': a vlass source has no such option"),
    (("sources", "add", "x", "--kind", "vlass", "--uri", ".", "--option", "rate_limit=fast"), "option rate_limit"),
    (("sources", "sync", "ghost"), "no source named"),
    (("--db", "not a url", "sources", "list"), "not a database URL"),
])
def test_bad_input_exits_2_with_a_message(db, args, message, tmp_path):
    result = cli(*args, db=db)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "not a url").exists()
    if os.path.exists(db.removeprefix("sqlite:///")):
        listing = cli("sources", "list", "--json", db=db)
        assert json.loads(listing.stdout) == []  # nothing half-written


def test_jupyter_subcommand_form(db):
    result = subprocess.run([str(Path(sys.executable).parent / "jupyter"), "vlass", "--version"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip()
