"""Parent-process side of the sandbox: one short-lived subprocess per call, and the trust boundary.

Each call starts ``runner.py`` with an allow-listed environment (nothing of this process's
secrets) in fresh network, PID, IPC and mount namespaces (``unshare --net --pid --ipc --fork
--mount --mount-proc --kill-child`` as root, with ``-r`` as a user where user namespaces are
allowed).  The runner is PID 1 there; this process kills it through a pidfd at the end of every
call (see :mod:`.control`), so every process the task code started dies with it, and its scratch
tmpfs is gone.  Where cgroup v2 allows, the call also runs in a cgroup of its own.  The runner
pivots into a minimal root of the call's own (:func:`root_binds`: the interpreter, the stdlib,
the shared libraries), joins a new session keyring and, as nobody, a user namespace of its own
(its user keyring); :func:`isolation_features` says what this machine gives.  See ``runner.py``
for the limits it applies inside.

Nothing the runner writes is trusted.  This process:

- keeps one deadline per call: ``timeout_s`` of the task code's time plus the judge seconds
  spent, checked on every event; with a call cgroup also the CPU seconds and memory of all the
  call's processes together;
- reads stdout and stderr in binary chunks with caps on line length and total bytes, and fails the
  call when the task code writes more; writes stdin from a thread of its own;
- answers ``eval_with_llm_judge`` requests itself, counting calls (``judge_calls_per_item`` per
  scored item), capping each field at ``JUDGE_FIELD_CHARS`` and spending at most
  ``judge_s_per_item`` seconds of judge time per item;
- validates every reply: the instance ids it asked for and no others, finite scores clamped to
  [0, 1], instances of the documented shape.

A forged or malformed reply fails that call with :class:`SandboxError` (its instances score 0),
never the run.  Without namespaces, calls are refused with :class:`IsolationError` unless the
weaker mode (rlimits, ``nobody``, an audit hook, a scratch folder removed afterwards) is allowed
explicitly; that mode cannot stop a process the task code detaches from outliving the call unless
the call has a cgroup.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import os
import queue
import secrets
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import Callable

from acdc_core.adapters.sandbox import control
from acdc_core.sandboxing import SandboxError, SandboxLimits
from acdc_core.text import clean_text

log = logging.getLogger(__name__)
_RUNNER = Path(__file__).with_name("runner.py")
NOBODY = 65534
JUDGE_FIELD_CHARS = 8000
INSTRUCTION_CHARS = 20_000
ERROR_CHARS = 500
TASK_DEPTH = 64  # JSON nesting of an instance's task data
# The only environment the runner gets; nothing else of this process's environment crosses.
RUNNER_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
_NAMESPACES = ("--net", "--pid", "--ipc", "--fork", "--mount", "--mount-proc", "--kill-child")
# Host paths bound read-only into a call's root where they exist (a top symlink such as
# ``/lib -> usr/lib`` is copied as a symlink): the shared libraries and the loader's cache.
LIBRARY_PATHS = ("/lib", "/lib32", "/lib64", "/libx32", "/usr/lib", "/usr/lib32", "/usr/lib64", "/usr/libx32",
                 "/etc/ld.so.cache")


class IsolationError(RuntimeError):
    """This machine cannot isolate task code (no namespaces) and the weaker mode is not allowed."""


JudgeFn = Callable[[str, str, str], bool]
"""``(instructions, submission, criteria) -> passed``; raises on a judge failure."""


@functools.cache
def isolation_prefix() -> tuple[str, ...]:
    """The ``unshare`` command line that isolates a call on this machine, or () if none works."""
    for prefix in (("unshare", *_NAMESPACES), ("unshare", "-r", *_NAMESPACES)):
        try:
            ok = subprocess.run([*prefix, "true"], capture_output=True, timeout=10).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        if ok:
            return prefix
    return ()


@functools.cache
def root_binds() -> tuple[str, ...]:
    """What a call's minimal root holds of the host, read-only, besides the runner's import path
    (the stdlib): the interpreter, its shared library and ``LIBRARY_PATHS``."""
    paths = [os.path.realpath(sys.executable), sysconfig.get_path("stdlib"), *LIBRARY_PATHS]
    if sysconfig.get_config_var("Py_ENABLE_SHARED"):
        paths.append(os.path.join(sysconfig.get_config_var("LIBDIR") or "", sysconfig.get_config_var("INSTSONAME") or ""))
    return tuple(dict.fromkeys(p for p in paths if os.path.isabs(p) and os.path.lexists(p)))


@functools.cache
def isolation_features() -> dict[str, str]:
    """What a call gets on this machine beyond the namespaces (``root``: "minimal", or "host
    (why not)"; ``keyring``: its session and user keyrings), from one call that runs no task code;
    {} where calls are not isolated or the probe fails."""
    if not isolation_prefix():
        return {}
    try:
        probe = Sandbox(SandboxLimits(timeout_s=10))._call({"op": "probe", "code": "", "max_instances": 0}, 1)
        return {k: str(v) for k, v in probe["probe"].items()}
    except (SandboxError, KeyError, TypeError, AttributeError):
        return {}


def describe_isolation(allow_weak: bool) -> str:
    """One line for logs and ``acdc validate``: how task code is contained here."""
    prefix = isolation_prefix()
    base = control.cgroup_base()
    group = (f"; a cgroup per call under {base} (whole-call CPU and memory checks, cgroup.kill)" if base
             else "; no cgroup per call (CPU and memory limited per process only)")
    if prefix:
        who = "as nobody" if os.geteuid() == 0 else "in a user namespace (its uid 0, no capabilities)"
        features = isolation_features()
        root = features.get("root", "unknown (the probe call failed)")
        view = ("a minimal root (interpreter, stdlib, shared libraries; no host files or sockets)"
                if root == "minimal" else f"the host's files, read-only, and its unix sockets: minimal root {root}")
        return (f"task code runs {who} in its own network, PID, IPC and mount namespaces "
                f"({' '.join(prefix)}), sees {view}, a private scratch tmpfs; keyrings: "
                f"{features.get('keyring', 'unknown')}{group}")
    if allow_weak:
        return ("WEAK: no namespaces on this machine; task code runs with rlimits, an audit hook"
                f" and a scratch folder only (sandbox.allow_weak_isolation is true){group}")
    return ("REFUSED: no namespaces on this machine, so task code will not run; set "
            "sandbox.allow_weak_isolation: true to accept rlimits and an audit hook alone")


class _Pipes:
    """Reads the runner's stdout and stderr in threads, within caps.

    Complete stdout lines (bytes) that start with ``marker`` arrive on ``events`` as ("line",
    data); other stdout lines are dropped unqueued, so a flood of short lines costs this process
    nothing.  ("eof", "stdout") ends them; ("overflow", message) means a cap was passed.  Of
    stderr only the last lines are kept.
    """

    def __init__(self, proc: subprocess.Popen, limits: SandboxLimits, marker: bytes):
        self.events: queue.Queue[tuple[str, object]] = queue.Queue()
        self.err_tail: deque[str] = deque(maxlen=20)
        self.marker = marker
        self.threads = [threading.Thread(target=self._pump, args=(name, stream, cap), daemon=True)
                        for name, stream, cap in (("stdout", proc.stdout, limits.output_bytes),
                                                  ("stderr", proc.stderr, limits.stderr_bytes))]
        for thread in self.threads:
            thread.start()

    def _pump(self, name: str, stream, cap: int) -> None:
        """Until EOF (which closes the stream): lines within the cap; past it, one overflow event
        and the rest drained unread so that the writer never blocks."""
        buf, total = bytearray(), 0
        with stream:
            while chunk := os.read(stream.fileno(), 65536):
                total += len(chunk)
                if total > cap:
                    if total - len(chunk) <= cap:
                        self.events.put(("overflow", f"the task code wrote more than {cap} bytes to {name}"))
                    continue
                buf += chunk
                if b"\n" not in chunk:
                    continue
                *lines, rest = buf.split(b"\n")
                buf = bytearray(rest)
                for line in lines:
                    if name == "stderr":
                        self.err_tail.append(line[:300].decode("utf-8", "replace"))
                    elif line.startswith(self.marker):
                        self.events.put(("line", bytes(line[len(self.marker):])))
        if name == "stderr" and buf:
            self.err_tail.append(buf[-300:].decode("utf-8", "replace"))
        self.events.put(("eof", name))

    def last_error(self) -> str:
        lines = [line.strip() for line in self.err_tail if line.strip()]
        return lines[-1][:300] if lines else "no output"

    def join(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for both readers to reach EOF (the call's processes are dead)."""
        until = time.monotonic() + timeout_s
        for thread in self.threads:
            thread.join(max(0.0, until - time.monotonic()))


class _Writer:
    """Writes the runner's stdin from its own thread: a runner that stops reading blocks this
    thread (until the call is killed and the pipe breaks), never the call."""

    def __init__(self, stream):
        self.stream = stream
        self.pending: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._write, daemon=True)
        self.thread.start()

    def send(self, data: bytes) -> None:
        self.pending.put(data)

    def _write(self) -> None:
        with contextlib.suppress(OSError):  # a broken pipe: the runner is gone
            while (data := self.pending.get()) is not None:
                self.stream.write(data)
                self.stream.flush()
        with contextlib.suppress(OSError):
            self.stream.close()

    def close(self, timeout_s: float) -> None:
        """Stop after what is queued; wait up to ``timeout_s`` (the runner is dead by then, so a
        blocked write fails at once)."""
        self.pending.put(None)
        self.thread.join(timeout_s)


class _JudgeBudget:
    """Judge calls and judge seconds one call may still spend, and the seconds spent so far."""

    def __init__(self, judge: JudgeFn | None, n_items: int, limits: SandboxLimits):
        self.judge = judge
        self.calls_left = limits.judge_calls_per_item * n_items if judge else 0
        self.seconds = limits.judge_s_per_item * n_items if judge else 0.0
        self.spent = 0.0

    def answer(self, body: bytes) -> dict:
        """The reply to one judge request ``body`` (JSON bytes).

        Raises:
            SandboxError: the judge was still working when the judge seconds ran out (it is left
                to finish in a daemon thread; its verdict is dropped).
        """
        if self.judge is None:
            return {"error": "no LLM judge is configured"}
        if self.calls_left <= 0:
            return {"error": "no judge calls left in this sandbox call"}
        if self.spent >= self.seconds:
            return {"error": "the judge time budget of this sandbox call is spent"}
        self.calls_left -= 1
        try:
            req = json.loads(body)
            fields = [req[k] for k in ("instructions", "submission", "criteria")]
        except (ValueError, KeyError, TypeError, RecursionError):
            return {"error": "malformed judge request"}
        if not all(isinstance(f, str) and len(f) <= JUDGE_FIELD_CHARS for f in fields):
            return {"error": f"judge request fields must be strings of at most {JUDGE_FIELD_CHARS} characters"}
        result: queue.SimpleQueue[dict] = queue.SimpleQueue()
        threading.Thread(target=self._ask, args=([clean_text(f) for f in fields], result), daemon=True).start()
        t0 = time.monotonic()
        try:
            return result.get(timeout=self.seconds - self.spent)
        except queue.Empty:
            raise SandboxError("the LLM judge took longer than the judge budget") from None
        finally:
            self.spent = min(self.seconds, self.spent + time.monotonic() - t0)

    def _ask(self, fields: list[str], result: queue.SimpleQueue) -> None:
        try:
            result.put({"verdict": bool(self.judge(*fields))})
        except Exception as exc:  # noqa: BLE001 - a judge failure fails this instance only
            log.warning("LLM judge call failed: %s", exc)
            result.put({"error": f"{type(exc).__name__}: {str(exc)[:300]}"})


class Sandbox:
    """Runs task-family source code in isolated subprocesses.

    Args:
        limits: per-call limits.
        judge: answers the task code's ``eval_with_llm_judge`` calls; None: such calls raise in
            the task code, so the instance scores 0 with the error recorded.
        allow_weak_isolation: run task code even where namespaces are unavailable (rlimits,
            ``nobody`` and an audit hook only); False: such calls raise :class:`IsolationError`.

    Methods raise :class:`SandboxError` when the family cannot be loaded, the process dies, or
    its reply fails validation; individual ``score()`` failures are not errors: they score 0 and
    come back in ``errors``.
    """

    def __init__(self, limits: SandboxLimits = SandboxLimits(), judge: JudgeFn | None = None,
                 allow_weak_isolation: bool = False):
        self.limits = limits
        self.judge = judge
        self.allow_weak_isolation = allow_weak_isolation

    def instances(self, code: str, max_instances: int, draw: int = 0) -> dict[str, dict]:
        """Load a family: ``{instance_id: {"task": JSON data, "instructions": str}}`` for the
        first ``max_instances`` instances (ids sorted).  ``draw`` k > 0 runs ``get_tasks`` with the
        ``random`` module re-seeded for draw k (every seed the code sets is mixed with k): the
        family's own generator on another seed, for held-out instances."""
        reply = self._call({"code": code, "op": "instances", "max_instances": max_instances, "draw": draw},
                           n_items=1)
        return _checked_instances(reply, max_instances)

    def score(self, code: str, items: list[dict]) -> tuple[dict[str, float], dict[str, str]]:
        """Score submissions. ``items``: [{"instance_id", "task", "submission"}].

        Returns (score in [0, 1] per instance id, error message per failed instance id)."""
        reply = self._call({"code": code, "op": "score", "items": items, "max_instances": 0},
                           n_items=len(items))
        return _checked_scores(reply, [str(it["instance_id"]) for it in items])

    def _call(self, request: dict, n_items: int) -> dict:
        prefix = isolation_prefix()
        if not prefix and not self.allow_weak_isolation:
            raise IsolationError(describe_isolation(False))
        if not prefix:
            _warn_weak_once()
        nonce = secrets.token_hex(8)
        lim = self.limits
        budget = _JudgeBudget(self.judge, max(1, n_items), lim)
        scratch = None if prefix else _make_scratch()
        request = {**request, "nonce": nonce, "isolated": bool(prefix), "scratch": scratch,
                   "root_binds": list(root_binds()),
                   "max_judge_calls": budget.calls_left,
                   "limits": {"cpu_s": lim.timeout_s, "memory_mb": lim.memory_mb,
                              "max_processes": lim.max_processes, "disk_mb": lim.disk_mb,
                              "max_files": lim.max_files}}
        start = time.monotonic()
        base = control.cgroup_base()
        group = control.CallGroup(base, f"acdc-{nonce}", lim.memory_mb << 20, lim.max_processes) if base else None
        try:
            proc = subprocess.Popen(
                [*prefix, sys.executable, "-I", "-S", str(_RUNNER)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env={**RUNNER_ENV, "TMPDIR": scratch or "/tmp"}, start_new_session=True, cwd="/",
            )
            pipes = _Pipes(proc, lim, nonce.encode())
            writer = _Writer(proc.stdin)
            try:
                handle = control.CallHandle(proc, bool(prefix), group, start + lim.timeout_s)
            except OSError as exc:
                proc.kill()
                proc.wait()
                raise SandboxError(f"{exc}: {pipes.last_error()}") from None
            try:
                writer.send(json.dumps(request).encode() + b"\n")
                return _Conversation(self.limits, pipes, writer, handle, budget, start).reply()
            finally:
                handle.kill()
                writer.close(1.0)
                pipes.join(1.0)
        finally:
            if group is not None:
                group.kill()
            if scratch:
                shutil.rmtree(scratch, ignore_errors=True)


class _Conversation:
    """One call's exchange with its started runner, within one deadline.

    The task code's clock runs from ``start`` except while the judge answers (then the call's
    cgroup, if any, is frozen): the call times out once it has had ``timeout_s`` seconds of its own
    or the judge has used its budget, so the wall time is at most ``timeout_s`` plus the judge
    seconds actually spent.  Where the call has a cgroup, its CPU seconds over all processes and
    its memory are checked every ``POLL_S``.
    """

    POLL_S = 0.05

    def __init__(self, limits: SandboxLimits, pipes: _Pipes, writer: _Writer,
                 handle: control.CallHandle, budget: _JudgeBudget, start: float):
        self.limits, self.pipes, self.writer, self.handle = limits, pipes, writer, handle
        self.budget, self.start = budget, start

    def timeout(self, cause: str) -> SandboxError:
        """The timeout error: the true elapsed time and what it went to."""
        elapsed = time.monotonic() - self.start
        return SandboxError(
            f"timed out after {elapsed:.1f} s ({cause}): task code {elapsed - self.budget.spent:.1f} s "
            f"of its {self.limits.timeout_s:g} s, LLM judge {self.budget.spent:.1f} s of its {self.budget.seconds:g} s")

    def check_totals(self) -> None:
        """Raises SandboxError when all the call's processes together are over a limit."""
        group, lim = self.handle.group, self.limits
        if group is None:
            return
        cpu = group.cpu_s()
        if cpu > lim.timeout_s:
            raise self.timeout(f"its processes used {cpu:.1f} CPU seconds together")
        memory = group.memory_bytes()
        if memory > lim.memory_mb << 20:
            raise SandboxError(f"the task code used {memory >> 20} MiB over all its processes "
                               f"(MemoryError); the limit is {lim.memory_mb} MiB")

    def judge(self, body: bytes) -> dict:
        group = self.handle.group
        if group is not None:
            group.freeze(True)
        try:
            return self.budget.answer(body)
        except SandboxError as exc:
            raise self.timeout(str(exc)) from None
        finally:
            if group is not None:
                group.freeze(False)

    def reply(self) -> dict:
        """Read the runner's marked lines until its reply, answering judge requests meanwhile.

        Returns:
            The reply object (not yet validated).

        Raises:
            SandboxError: timeout, a limit passed, an output cap passed, the runner died, or a
                reply that is not a JSON object.
        """
        while True:
            now = time.monotonic()
            deadline = self.start + self.limits.timeout_s + self.budget.spent
            if now >= deadline:
                raise self.timeout("the task code ran past its time")
            self.check_totals()
            wait = deadline - now if self.handle.group is None else min(deadline - now, self.POLL_S)
            try:
                kind, data = self.pipes.events.get(timeout=wait)
            except queue.Empty:
                continue
            if kind == "overflow":
                raise SandboxError(data)
            if kind == "eof":
                if data == "stdout":
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        self.handle.proc.wait(timeout=1.0)
                    raise SandboxError(f"sandbox process died ({self.handle.proc.returncode}): "
                                       f"{self.pipes.last_error()}")
                continue
            if data.startswith(b"J"):
                self.writer.send(json.dumps(self.judge(data[1:])).encode() + b"\n")
                continue
            reply = _parse_reply(data)
            if "fatal" in reply:
                if not isinstance(reply["fatal"], str):
                    raise SandboxError("malformed reply from the sandbox")
                lines = clean_text(reply["fatal"]).strip().splitlines() or ["unknown failure"]
                raise SandboxError(lines[-1][:ERROR_CHARS])
            # the runner exits right after its reply: let it, rather than kill it mid-exit
            self.handle.exited(1.0)
            return reply


def _parse_reply(body: bytes) -> dict:
    """The JSON object in one reply line; raises SandboxError for anything else (invalid JSON,
    nesting too deep for the parser, integers too long to convert, not an object)."""
    try:
        reply = json.loads(body)
    except (ValueError, RecursionError):
        raise SandboxError("malformed reply from the sandbox") from None
    if not isinstance(reply, dict):
        raise SandboxError("malformed reply from the sandbox")
    return reply

def _checked_scores(reply: dict, ids: list[str]) -> tuple[dict[str, float], dict[str, str]]:
    """The reply's scores for exactly ``ids``, finite and clamped to [0, 1], and its error
    strings (cleaned, at most ``ERROR_CHARS``) for some of them.  Raises SandboxError for anything
    else, integers too large for a float included."""
    scores, errors = reply.get("scores"), reply.get("errors", {})
    if not isinstance(scores, dict) or not isinstance(errors, dict):
        raise SandboxError("malformed reply: scores and errors must be objects")
    if set(scores) != set(ids) or not set(errors) <= set(ids):
        raise SandboxError("malformed reply: instance ids differ from those asked for")
    if not all(isinstance(v, str) for v in errors.values()):
        raise SandboxError("malformed reply: errors must be strings")
    clean = {}
    for iid in ids:
        v = scores[iid]
        try:
            ok = not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v)
        except OverflowError:
            ok = False
        if not ok:
            raise SandboxError(f"malformed reply: score of {clean_text(iid[:50])!r} is not a finite number")
        clean[iid] = min(1.0, max(0.0, float(v)))
    return clean, {k: clean_text(v[:ERROR_CHARS]) for k, v in errors.items()}


def _checked_instances(reply: dict, max_instances: int) -> dict[str, dict]:
    """The reply's instances if they have the documented shape, every string in them cleaned
    (:func:`acdc_core.text.clean_text`); raises SandboxError otherwise (task data nested deeper
    than ``TASK_DEPTH`` included)."""
    inst = reply.get("instances")
    if not isinstance(inst, dict) or not 0 < len(inst) <= max_instances:
        raise SandboxError(f"malformed reply: expected 1 to {max_instances} instances")
    out = {}
    for iid, v in inst.items():
        if (len(iid) > 200 or not isinstance(v, dict) or set(v) != {"task", "instructions"}
                or not isinstance(v["instructions"], str) or len(v["instructions"]) > INSTRUCTION_CHARS):
            raise SandboxError(f"malformed reply: instance {clean_text(iid[:50])!r} is not "
                               f"{{task, instructions (at most {INSTRUCTION_CHARS} characters)}}")
        out[clean_text(iid)] = {"task": _clean_json(v["task"], TASK_DEPTH), "instructions": clean_text(v["instructions"])}
    if len(out) < len(inst):
        raise SandboxError("malformed reply: instance ids collide once cleaned")
    return out


def _clean_json(value: object, depth: int) -> object:
    """JSON data with every string (keys too) cleaned; raises SandboxError when it nests deeper
    than ``depth``."""
    if depth < 0:
        raise SandboxError(f"malformed reply: task data nested deeper than {TASK_DEPTH} levels")
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [_clean_json(v, depth - 1) for v in value]
    if isinstance(value, dict):
        return {clean_text(k): _clean_json(v, depth - 1) for k, v in value.items()}
    return value


def _make_scratch() -> str:
    """Weak mode: a fresh folder the runner (as nobody, when started as root) may write to."""
    path = tempfile.mkdtemp(prefix="acdc-sandbox-")
    if os.geteuid() == 0:
        os.chown(path, NOBODY, NOBODY)
    return path


@functools.cache
def _warn_weak_once() -> None:
    log.warning("sandbox: %s", describe_isolation(True))
