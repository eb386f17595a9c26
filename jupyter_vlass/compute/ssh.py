"""A Slurm cluster reached through its login node over SSH: an argv prefix for the scheduler commands.

ssh joins the words after the host into one command line that the remote shell parses, so every word of
the scheduler command is quoted (:func:`shlex.join`) before it goes; the batch script itself goes over
stdin. Non-interactive (``BatchMode``), the host key checked against a known-hosts file, the user's own
key. The job directory must lie on a filesystem that the cluster sees too (as $WORK or $SCRATCH are on
TACC's systems); inputs may come through an S3 scratch instead.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass

from ..exceptions import InvalidRequest
from ..patterns import UNIX_ACCOUNT

HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$")
KEYS = {"host", "user", "port", "identity_file", "known_hosts_file"}


@dataclass(frozen=True)
class LoginNode:
    host: str
    user: str
    port: int = 22
    identity_file: str | None = None
    known_hosts_file: str | None = None

    @classmethod
    def from_config(cls, settings: object, *, where: str, default_user: str | None) -> LoginNode:
        """From ``{host, user, port, identity_file, known_hosts_file}``, each problem named by its key."""
        if not isinstance(settings, dict) or set(settings) - KEYS:
            raise InvalidRequest(f"{where}: an object with keys {', '.join(sorted(KEYS))}")
        host, user, port = settings.get("host"), settings.get("user", default_user), settings.get("port", 22)
        if not isinstance(host, str) or not HOST.match(host):
            raise InvalidRequest(f"{where}.host: a host name or address")
        if not isinstance(user, str) or not UNIX_ACCOUNT.match(user):
            raise InvalidRequest(f"{where}.user: the account on the login node")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise InvalidRequest(f"{where}.port: a TCP port")
        files = {}
        for key in ("identity_file", "known_hosts_file"):
            value = settings.get(key)
            if value is not None and (not isinstance(value, str) or not os.path.isabs(value) or "\n" in value):
                raise InvalidRequest(f"{where}.{key}: an absolute path")
            files[key] = value
        return cls(host, user, port, **files)

    def argv(self) -> list[str]:
        """``ssh ... user@host --``: the remote command (one quoted string) follows."""
        argv = ["ssh", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=10",
                "-p", str(self.port), "-l", self.user]
        if self.identity_file:
            argv += ["-i", self.identity_file, "-o", "IdentitiesOnly=yes"]
        if self.known_hosts_file:
            argv += ["-o", f"UserKnownHostsFile={self.known_hosts_file}"]
        return argv + [self.host, "--"]


def over_ssh(prefix: list[str] | tuple[str, ...], argv: list[str]) -> list[str]:
    """``argv`` run on the login node: every word quoted for the remote shell."""
    return [*prefix, shlex.join(argv)]
