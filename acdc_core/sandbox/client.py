"""Parent-process side of the sandbox: one short-lived subprocess per call.

Each call starts ``runner.py`` under a wall-clock timeout in its own process group, inside a new
network namespace (``unshare -n`` as root, ``unshare -rn`` as a user where user namespaces are
allowed).  The runner itself adds rlimits (CPU, address space, processes, file size), drops root
to ``nobody`` and blocks sockets through an audit hook, which is the only network guard left on
a machine without namespaces (a warning is logged once then).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)
_RUNNER = Path(__file__).with_name("runner.py")


class SandboxError(RuntimeError):
    """The task-family code could not run at all (syntax error, no TaskFamily, timeout, crash)."""


@dataclass(frozen=True)
class SandboxLimits:
    """Limits of one sandbox call: wall/CPU seconds, address space in MiB, process count."""

    timeout_s: float = 10.0
    memory_mb: int = 1024
    max_processes: int = 8


@functools.cache
def _netns_prefix() -> tuple[str, ...]:
    for prefix in (("unshare", "-n"), ("unshare", "-rn")):
        try:
            ok = subprocess.run([*prefix, "true"], capture_output=True, timeout=10).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        if ok:
            return prefix
    log.warning("no network namespace available: sandbox relies on an in-process socket block")
    return ()


class Sandbox:
    """Runs task-family source code in isolated subprocesses.

    Methods raise :class:`SandboxError` when the family cannot be loaded or the process dies;
    individual ``score()`` failures are not errors: they score 0 and come back in ``errors``.
    """

    def __init__(self, limits: SandboxLimits = SandboxLimits()):
        self.limits = limits

    def _call(self, request: dict) -> dict:
        nonce = secrets.token_hex(8)
        request = {
            **request,
            "nonce": nonce,
            "limits": {
                "cpu_s": self.limits.timeout_s,
                "memory_mb": self.limits.memory_mb,
                "max_processes": self.limits.max_processes,
            },
        }
        cmd = [*_netns_prefix(), sys.executable, "-I", "-S", str(_RUNNER)]
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            text=True,
        )
        try:
            out, err = proc.communicate(json.dumps(request), timeout=self.limits.timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise SandboxError(f"timed out after {self.limits.timeout_s:g} s") from None
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        for line in reversed(out.splitlines()):
            if line.startswith(nonce):
                reply = json.loads(line[len(nonce) :])
                if "fatal" in reply:
                    raise SandboxError(reply["fatal"].strip().splitlines()[-1])
                return reply
        tail = err.strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
        raise SandboxError(f"sandbox process died ({proc.returncode}): {tail[0][:300]}")

    def instances(self, code: str, max_instances: int) -> dict[str, dict]:
        """Load a family: ``{instance_id: {"task": dict, "instructions": str}}`` for the first
        ``max_instances`` instances (ids sorted)."""
        return self._call({"code": code, "op": "instances", "max_instances": max_instances})["instances"]

    def score(self, code: str, items: list[dict]) -> tuple[dict[str, float], dict[str, str]]:
        """Score submissions. ``items``: [{"instance_id", "task", "submission"}].

        Returns (scores in [0, 1] per instance id, error message per failed instance id)."""
        reply = self._call({"code": code, "op": "score", "items": items, "max_instances": 0})
        return reply["scores"], reply["errors"]
