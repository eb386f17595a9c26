"""REST: the site's public signing keys (/vlass/api/keys), for anyone checking a run capsule."""

from __future__ import annotations

import os

from jupyter_server.auth.decorator import authorized

from .base import VlassHandler, authenticated


class KeysHandler(VlassHandler):
    """Capsules signed with any of these keys verify; retired keys stay listed."""

    @authenticated
    @authorized
    async def get(self):
        from ...cli_capsules import DATA
        from ...reproducibility.keys import Keyring

        keyring = Keyring(os.environ.get("JUPYTER_VLASS_KEYS") or DATA / "keys")
        keys = await self.blocking(lambda: [k.to_json() for k in keyring.public_keys()])
        self.write_json({"keys": keys})
