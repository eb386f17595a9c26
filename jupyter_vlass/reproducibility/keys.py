"""A site's signing keys: EC P-256 (what Model Signing 1.1 signs with offline), identified by the sha256
of the public key's PEM (the ``hint`` a signature bundle carries). Rotation makes a new key current and
keeps every old public key, so that capsules signed before stay verifiable.

Layout under the keyring folder: ``private/<key id>.pem`` (0600), ``public/<key id>.pem``, and
``keyring.json`` (the current key id, each key's creation and retirement).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..exceptions import InvalidArgument, NotFound
from ..store.times import utcnow


class UnknownKey(NotFound):
    reason = "unknown_key"


@dataclass(frozen=True)
class PublicKey:
    key_id: str
    pem: str
    created: str
    retired: str | None

    def to_json(self) -> dict:
        return {"key_id": self.key_id, "algorithm": "ecdsa-p256-sha256", "public_key_pem": self.pem,
                "created": self.created, "retired": self.retired}


def key_id_of(public_pem: bytes) -> str:
    return hashlib.sha256(public_pem).hexdigest()


class Keyring:
    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def _index(self) -> dict:
        try:
            return json.loads((self.folder / "keyring.json").read_text())
        except FileNotFoundError:
            return {"current": None, "keys": {}}

    def _write_index(self, index: dict) -> None:
        tmp = self.folder / ".keyring.json.tmp"
        tmp.write_text(json.dumps(index, indent=1, sort_keys=True))
        os.replace(tmp, self.folder / "keyring.json")

    def current(self) -> str:
        """The id of the key that signs now (a first key is made when there is none)."""
        return self._index()["current"] or self.rotate()

    def rotate(self) -> str:
        """A new key becomes current; the previous one is retired (its public key stays)."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        private = ec.generate_private_key(ec.SECP256R1())
        public_pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo)
        key_id = key_id_of(public_pem)
        (self.folder / "private").mkdir(parents=True, exist_ok=True, mode=0o700)
        (self.folder / "public").mkdir(parents=True, exist_ok=True)
        private_path = self.folder / "private" / f"{key_id}.pem"
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        (self.folder / "public" / f"{key_id}.pem").write_bytes(public_pem)
        index = self._index()
        now = utcnow().isoformat() + "Z"
        if index["current"]:
            index["keys"][index["current"]]["retired"] = now
        index["keys"][key_id] = {"created": now, "retired": None}
        index["current"] = key_id
        self._write_index(index)
        return key_id

    def private_key_path(self, key_id: str) -> Path:
        path = self.folder / "private" / f"{key_id}.pem"
        if not path.exists():
            raise UnknownKey(f"no private key {key_id[:16]}... in {self.folder}")
        return path

    def public_keys(self) -> list[PublicKey]:
        index = self._index()
        return [PublicKey(key_id, (self.folder / "public" / f"{key_id}.pem").read_text(), meta["created"],
                          meta["retired"]) for key_id, meta in sorted(index["keys"].items(),
                                                                      key=lambda kv: kv[1]["created"])]

    def public_key(self, key_id: str) -> PublicKey:
        if not isinstance(key_id, str) or len(key_id) != 64 or not all(c in "0123456789abcdef" for c in key_id):
            raise InvalidArgument("key id: 64 hex digits (the sha256 of the public key's PEM)")
        for key in self.public_keys():
            if key.key_id == key_id:
                return key
        raise UnknownKey(f"the key {key_id[:16]}... is not one of this site's keys")
