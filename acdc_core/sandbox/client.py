"""Parent-process side of the sandbox: one short-lived subprocess per call.

Each call starts ``runner.py`` under a wall-clock timeout in its own process group, inside a new
network namespace (``unshare -n`` as root, ``unshare -rn`` as a user where user namespaces are
allowed).  The runner itself adds rlimits (CPU, address space, processes, file size), drops root
to ``nobody`` and blocks sockets through an audit hook, which is the only network guard left on
a machine without namespaces (a warning is logged once then).

Task code may call ``eval_with_llm_judge``: the request crosses to this process over the
runner's stdout (one marked JSON line), this process asks the configured judge, and writes
back one line with the verdict.  That line-per-call exchange is the only channel out; the time
the judge takes does not count against the sandbox's wall-clock limit.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import queue
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

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
    judge_calls_per_item: int = 2

JudgeFn = Callable[[str, str, str], bool]
"""``(instructions, submission, criteria) -> passed``; raises on a judge failure."""


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


def _pump(stream, sink: Callable[[str], None]) -> None:
    for line in stream:
        sink(line)
    sink("")  # end of stream


class Sandbox:
    """Runs task-family source code in isolated subprocesses.

    Args:
        limits: per-call limits.
        judge: answers the task code's ``eval_with_llm_judge`` calls (at most
            ``limits.judge_calls_per_item`` per scored item); None: such calls raise in the task
            code, so the instance scores 0 with the error recorded.

    Methods raise :class:`SandboxError` when the family cannot be loaded or the process dies;
    individual ``score()`` failures are not errors: they score 0 and come back in ``errors``.
    """

    def __init__(self, limits: SandboxLimits = SandboxLimits(), judge: JudgeFn | None = None):
        self.limits = limits
        self.judge = judge

    def _call(self, request: dict) -> dict:
        nonce = secrets.token_hex(8)
        n_items = len(request.get("items", [])) or 1
        request = {
            **request,
            "nonce": nonce,
            "limits": {
                "cpu_s": self.limits.timeout_s,
                "memory_mb": self.limits.memory_mb,
                "max_processes": self.limits.max_processes,
            },
            "max_judge_calls": self.limits.judge_calls_per_item * n_items if self.judge else 0,
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
        lines: queue.Queue[str] = queue.Queue()
        err_tail: deque[str] = deque(maxlen=20)
        threading.Thread(target=_pump, args=(proc.stdout, lines.put), daemon=True).start()
        threading.Thread(target=_pump, args=(proc.stderr, err_tail.append), daemon=True).start()
        try:
            proc.stdin.write(json.dumps(request) + "\n")
            proc.stdin.flush()
            return self._converse(proc, nonce, lines, err_tail)
        except BrokenPipeError:
            proc.wait(timeout=self.limits.timeout_s)
            raise SandboxError(f"sandbox process died ({proc.returncode}): {_last(err_tail)}") from None
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def _converse(self, proc: subprocess.Popen, nonce: str, lines: queue.Queue, err_tail: deque) -> dict:
        """Read the runner's marked lines until its reply, answering judge requests meanwhile."""
        deadline = time.monotonic() + self.limits.timeout_s
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise SandboxError(f"timed out after {self.limits.timeout_s:g} s") from None
            if not line:
                proc.wait(timeout=5)
                raise SandboxError(f"sandbox process died ({proc.returncode}): {_last(err_tail)}")
            if not line.startswith(nonce):
                continue
            body = line[len(nonce):]
            if not body.startswith("J"):
                reply = json.loads(body)
                if "fatal" in reply:
                    raise SandboxError(reply["fatal"].strip().splitlines()[-1])
                return reply
            t0 = time.monotonic()
            proc.stdin.write(json.dumps(self._ask_judge(body[1:])) + "\n")
            proc.stdin.flush()
            deadline += time.monotonic() - t0  # the judge's time is not the task code's

    def _ask_judge(self, body: str) -> dict:
        try:
            req = json.loads(body)
            fields = [req[k] for k in ("instructions", "submission", "criteria")]
            if not all(isinstance(f, str) for f in fields):
                return {"error": "judge request fields must be strings"}
        except (ValueError, KeyError, TypeError):
            return {"error": "malformed judge request"}
        if self.judge is None:
            return {"error": "no LLM judge is configured"}
        try:
            return {"verdict": bool(self.judge(*fields))}
        except Exception as exc:  # noqa: BLE001 - a judge failure fails this instance only
            log.warning("LLM judge call failed: %s", exc)
            return {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}

    def instances(self, code: str, max_instances: int) -> dict[str, dict]:
        """Load a family: ``{instance_id: {"task": dict, "instructions": str}}`` for the first
        ``max_instances`` instances (ids sorted)."""
        return self._call({"code": code, "op": "instances", "max_instances": max_instances})["instances"]

    def score(self, code: str, items: list[dict]) -> tuple[dict[str, float], dict[str, str]]:
        """Score submissions. ``items``: [{"instance_id", "task", "submission"}].

        Returns (scores in [0, 1] per instance id, error message per failed instance id)."""
        reply = self._call({"code": code, "op": "score", "items": items, "max_instances": 0})
        return reply["scores"], reply["errors"]


def _last(err_tail: deque) -> str:
    lines = [line.strip() for line in err_tail if line.strip()]
    return lines[-1][:300] if lines else "no output"
