"""The one seam through which the project runs programs: an argv list, never a shell string."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Completed:
    argv: tuple[str, ...]
    returncode: int
    stdout: str | bytes
    stderr: str | bytes


def _check_argv(argv: Sequence[str]) -> tuple[str, ...]:
    if isinstance(argv, (str, bytes)) or not argv or not all(isinstance(a, str) for a in argv):
        raise TypeError("argv must be a non-empty list of strings")
    return tuple(argv)


async def run(argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: str | None = None,
              timeout: float = 60.0, input: str | None = None) -> Completed:
    """Run ``argv`` with ``create_subprocess_exec``; ``input`` goes to stdin; killed after ``timeout`` s."""
    argv = _check_argv(argv)
    proc = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.PIPE if input is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env, cwd=cwd)
    try:
        data = input.encode() if input is not None else None
        out, err = await asyncio.wait_for(proc.communicate(data), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return Completed(argv, proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"))


def run_sync(argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: str | None = None,
             timeout: float = 600.0, text: bool = True) -> Completed:
    """Blocking twin of :func:`run` for command-line tools and set-up scripts (``text=False``: stdout and
    stderr as bytes)."""
    argv = _check_argv(argv)
    proc = subprocess.run(argv, capture_output=True, text=text, env=env, cwd=cwd, timeout=timeout, check=False)
    return Completed(argv, proc.returncode, proc.stdout, proc.stderr)


def start(argv: Sequence[str], *, log_path: str, cwd: str | None = None,
          env: Mapping[str, str] | None = None) -> subprocess.Popen:
    """Start ``argv`` in a session of its own, stdout and stderr appended to ``log_path``; don't wait.

    For jobs that outlive the call. The caller keeps the Popen to reap it (``poll()``); a process whose
    starter exits is adopted by init. The log is private (0600) and never opened through a link.
    """
    argv = _check_argv(argv)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "ab") as log:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=cwd,
                                env=env, start_new_session=True)
