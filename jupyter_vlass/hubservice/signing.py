"""The site's signing key, held by the service alone: capsules signed for their author, the signing log, the
public keys (retired ones too) and their rotation."""

from __future__ import annotations

from tornado import web

from ..reproducibility.signing import sign_statement
from .base import ServiceHandler


class CapsuleSignAPI(ServiceHandler):
    """Sign a capsule for its author with the site's key (users never hold it): ``{statement, crate}``. A
    detection analysis is signed only through the publish gate, evaluated here on the service's own consensus,
    votes and overrides; each gated input's signing is in the audit trail, with the override it passed by."""

    @web.authenticated
    def post(self):
        body = self.json_body()
        review = self.settings["review"]
        signed = sign_statement(self.settings["keyring"], statement=body.get("statement"), crate=body.get("crate"),
                                user=self.user_name, gate=review, orcid=self.ledger.orcid_of(self.user_name))
        self.settings["signature_log"].record(capsule_id=signed["capsule_id"], user=self.user_name,
                                              key_id=signed["key_id"])
        for decision in signed["gated"]:
            review.audit.append(actor=self.user_name, action="signed",
                                subject=f"{decision['dataset_id']}@{decision['version']}",
                                detail={"capsule": signed["capsule_id"], "result": decision["result_id"],
                                        "score": decision["score"], "override": decision["override"]})
        self.finish(signed)


class CapsuleSignaturesAPI(ServiceHandler):
    """The signing log: everyone's for an approver, the caller's own otherwise."""

    @web.authenticated
    def get(self):
        user = None if self.may_decide else self.user_name
        self.finish({"signatures": self.settings["signature_log"].list(user=user)})


class KeysAPI(ServiceHandler):
    """The site's public keys, retired ones included (old capsules verify with them)."""

    @web.authenticated
    def get(self):
        self.finish({"keys": [k.to_json() for k in self.settings["keyring"].public_keys()]})


class KeyRotateAPI(ServiceHandler):
    @web.authenticated
    def post(self):
        self.require_decide("rotating the signing key")
        self.finish({"key_id": self.settings["keyring"].rotate()})


def routes(prefix_join) -> list:
    return [(prefix_join("api/capsules/sign"), CapsuleSignAPI),
            (prefix_join("api/capsules/signatures"), CapsuleSignaturesAPI),
            (prefix_join("api/keys"), KeysAPI),
            (prefix_join("api/keys/rotate"), KeyRotateAPI)]
