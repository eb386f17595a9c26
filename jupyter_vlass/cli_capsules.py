"""``jupyter-vlass capsule publish|verify|keys|rotate-key``: signed run capsules from a terminal.

The artifact store is ``--store`` (default ``$JUPYTER_VLASS_CAPSULES``, else
``~/.local/share/jupyter-vlass/capsules``); the site's keys ``--keys`` (default ``$JUPYTER_VLASS_KEYS``,
else ``~/.local/share/jupyter-vlass/keys``).
"""

from __future__ import annotations

import os
from pathlib import Path

DATA = Path.home() / ".local" / "share" / "jupyter-vlass"


def _keyring(args):
    from .reproducibility.keys import Keyring

    return Keyring(args.keys or os.environ.get("JUPYTER_VLASS_KEYS") or DATA / "keys")


def cmd_publish(args) -> int:
    from .cli import _print_json
    from .cli_jobs import open_jobs
    from .reproducibility.capsule import publish

    job = open_jobs(config=args.config, db=args.db, root=args.root).get(args.job)
    store = args.store or os.environ.get("JUPYTER_VLASS_CAPSULES") or DATA / "capsules"
    capsule = publish(job, store=store, keyring=_keyring(args))
    if args.json:
        _print_json(capsule.to_json())
    else:
        print(f"{'published' if capsule.new else 'already published'}: {capsule.path}  (key {capsule.key_id[:16]})")
    return 0


def cmd_verify(args) -> int:
    from .cli import _print_json
    from .reproducibility.capsule import verify

    result = verify(args.capsule, keyring=_keyring(args))
    _print_json(result) if args.json else print(f"verified: {result['files']} files, signed by key "
                                                 f"{result['key_id'][:16]}")
    return 0


def cmd_keys(args) -> int:
    from .cli import _print_json

    keys = [k.to_json() for k in _keyring(args).public_keys()]
    if args.json:
        _print_json(keys)
    for key in [] if args.json else keys:
        print(f"{key['key_id']}  created {key['created']}{'  retired ' + key['retired'] if key['retired'] else ''}")
    return 0


def cmd_rotate(args) -> int:
    print(_keyring(args).rotate())
    return 0


def add_commands(sub) -> None:
    capsule = sub.add_parser("capsule", help="signed run capsules").add_subparsers(dest="action", required=True)
    p = capsule.add_parser("publish", help="publish a done job as a signed capsule (the same run twice is one)")
    p.add_argument("job")
    p.add_argument("--config", help="the jobs config (as for `jobs`)")
    p.add_argument("--root", default=".", help="your notebook directory")
    p.add_argument("--store", help="the artifact store (a directory)")
    p.set_defaults(fn=cmd_publish)
    p = capsule.add_parser("verify", help="check a capsule's files and signature against this site's keys")
    p.add_argument("capsule")
    p.set_defaults(fn=cmd_verify)
    p = capsule.add_parser("keys", help="this site's public keys (old ones stay, so old capsules verify)")
    p.set_defaults(fn=cmd_keys)
    p = capsule.add_parser("rotate-key", help="make a new signing key current")
    p.set_defaults(fn=cmd_rotate)
    for parser in (capsule.choices[name] for name in ("publish", "verify", "keys", "rotate-key")):
        parser.add_argument("--keys", help="the site's keyring folder")
        parser.add_argument("--json", action="store_true")
