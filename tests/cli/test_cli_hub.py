"""`jupyter-vlass allocations` and `approvals`: admin commands on the hub database."""

import json

from jupyter_vlass.cli import main


def test_grant_show_and_bad_input(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'hub.sqlite'}"
    assert main(["--db", db, "allocations", "grant", "astro", "50", "--by", "ops"]) == 0
    assert json.loads(capsys.readouterr().out)["available_su"] == 50
    assert main(["--db", db, "approvals", "approve", "7"]) == 2
    assert "no approval request #7" in capsys.readouterr().err
    assert main(["--db", db, "approvals", "list"]) == 0
    assert json.loads(capsys.readouterr().out) == []
