"""Who signs a capsule, and with which keys it is checked.

On a single-user install the site's keyring lies in the data directory and :class:`KeyringSigner` signs
with it. Under a hub, users never hold the site's private key: their server hashes the capsule
(the in-toto statement Model Signing signs) and :class:`HubSigner` asks the hub service to sign it.
The service (:func:`sign_statement`) signs only a statement whose ``ro-crate-metadata.json`` it was
shown, whose bytes match the statement's digest and whose agent is the caller, so nobody publishes
under another user's name. :class:`HubKeys` reads the service's public keys for verifying.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from pathlib import Path

from ..exceptions import Forbidden, InvalidArgument
from .crate import gated_inputs_of_crate
from .keys import Keyring, PublicKey, UnknownKey
from .layout import CRATE, SIGNATURE, capsule_id_of
PREDICATE = "https://model_signing/signature/v1.0"
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _hashing():
    from model_signing import hashing

    # The signature lies inside the capsule: it is named in the signed ignore list, so that any
    # verifier (ours, the third-party CLI) leaves it out of the files it checks. Every other file is
    # signed, git-looking names included (a verifier that skipped them would accept a file added there).
    return hashing.Config().set_ignored_paths(paths=[SIGNATURE], ignore_git_paths=False)


class KeyringSigner:
    """Signs with the current key of a keyring this process can read."""

    def __init__(self, keyring: Keyring):
        self.keyring = keyring

    def sign(self, folder: Path, *, owner: str) -> str:
        from model_signing import signing

        key_id = self.keyring.current()
        config = signing.Config().use_elliptic_key_signer(private_key=self.keyring.private_key_path(key_id))
        config.set_hashing_config(_hashing()).sign(folder, folder / SIGNATURE)  # one pass over every byte
        return key_id


class _Statement:
    """What model_signing's signers read of a payload: ``.statement.pb``."""

    def __init__(self, pb):
        self.statement = self
        self.pb = pb


def _check_statement(text: str) -> dict[str, str]:
    try:
        doc = json.loads(text)
        resources = doc["predicate"]["resources"]
        files = {r["name"]: r["digest"] for r in resources if r["algorithm"] == "sha256"}
    except (ValueError, KeyError, TypeError):
        raise InvalidArgument("statement: the in-toto statement of a Model Signing payload") from None
    if doc.get("predicateType") != PREDICATE or len(files) != len(resources) or not files:
        raise InvalidArgument(f"statement: a {PREDICATE} statement with a sha256 for every file")
    if not all(isinstance(n, str) and isinstance(d, str) and HEX64.match(d) for n, d in files.items()):
        raise InvalidArgument("statement: every resource needs a name and a sha256 of 64 hex digits")
    return files


def sign_statement(keyring: Keyring, *, statement: str, crate: str, user: str, gate=None,
                   orcid: str | None = None) -> dict:
    """The hub service's side: sign ``statement`` for ``user`` with the site's current key.

    Refused unless ``crate`` is the capsule's signed ``ro-crate-metadata.json`` and names ``user`` as the
    agent of the run (by no ORCID iD, or by ``orcid``, the one the hub's login gave them), and, when the crate describes a detection analysis (:func:`.crate.gated_inputs_of_crate`),
    unless ``gate`` (the service's :class:`~jupyter_vlass.review.review.Review`) lets each of its inputs through
    (:class:`~jupyter_vlass.review.review.PublishRefused` with the reasons). Returns ``{bundle, key_id,
    capsule_id, gated}`` (the bundle as ``capsule.sig`` holds it; ``gated``: the gate's decisions).
    """
    from google.protobuf import json_format
    from in_toto_attestation.v1 import statement_pb2
    from model_signing._signing import sign_ec_key

    if not isinstance(statement, str) or not isinstance(crate, str):
        raise InvalidArgument("statement and crate: the payload to sign and the capsule's crate, as text")
    files = _check_statement(statement)
    if files.get(CRATE) != hashlib.sha256(crate.encode()).hexdigest():
        raise InvalidArgument(f"crate: not the {CRATE} the statement signs")
    try:
        agents = [e for e in json.loads(crate)["@graph"] if e.get("@id") == "#agent"]
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InvalidArgument(f"crate: {CRATE} is not an RO-Crate") from None
    if [a.get("name") for a in agents] != [user]:
        raise Forbidden(f"a capsule is signed only for its own author: the crate names "
                        f"{', '.join(str(a.get('name')) for a in agents) or 'nobody'}, you are {user}")
    named = agents[0].get("identifier")
    if named is not None and named != orcid:
        raise Forbidden(f"the crate names its author by the ORCID iD {str(named)[:64]}, which is not the one your "
                        f"login gave ({orcid or 'none'})")
    gated = [] if gate is None else [gate.check(d, v) for d, v in gated_inputs_of_crate(json.loads(crate))]
    key_id = keyring.current()
    pb = json_format.Parse(statement, statement_pb2.Statement())
    signature = sign_ec_key.Signer(keyring.private_key_path(key_id)).sign(_Statement(pb))
    with tempfile.TemporaryDirectory() as folder:
        signature.write(Path(folder) / SIGNATURE)
        bundle = (Path(folder) / SIGNATURE).read_text()
    return {"bundle": bundle, "key_id": key_id, "capsule_id": capsule_id_of(files),
            "gated": [decision.to_json() for decision in gated]}


class HubSigner:
    """Hashes the capsule here and has the hub service sign it (``POST api/capsules/sign``)."""

    def __init__(self, client):
        self.client = client

    def sign(self, folder: Path, *, owner: str) -> str:
        from google.protobuf import json_format
        from model_signing._signing import signing

        payload = signing.Payload(_hashing().hash(folder))
        doc = self.client.request("POST", "api/capsules/sign", {
            "statement": json_format.MessageToJson(payload.statement.pb),
            "crate": (folder / CRATE).read_text()})
        (folder / SIGNATURE).write_text(doc["bundle"])
        return doc["key_id"]


class HubKeys:
    """The hub service's public keys (``GET api/keys``): what capsules signed under the hub verify with."""

    def __init__(self, client):
        self.client = client

    def public_keys(self) -> list[PublicKey]:
        return [PublicKey(k["key_id"], k["public_key_pem"], k["created"], k["retired"])
                for k in self.client.request("GET", "api/keys")["keys"]]

    def public_key(self, key_id: str) -> PublicKey:
        if not isinstance(key_id, str) or not HEX64.match(key_id):
            raise InvalidArgument("key id: 64 hex digits (the sha256 of the public key's PEM)")
        for key in self.public_keys():
            if key.key_id == key_id:
                return key
        raise UnknownKey(f"the key {key_id[:16]}... is not one of this hub's keys")

    def rotate(self) -> str:
        return self.client.request("POST", "api/keys/rotate", {})["key_id"]
