"""Child-process side of the sandbox: runs one untrusted task-family source under limits.

Started by :mod:`acdc_core.sandbox.client` as ``python -I -S runner.py`` (stdlib only, no site),
inside a fresh network namespace where the machine allows one.  It reads one JSON request on
stdin, applies resource limits, drops root privileges, blocks sockets with an audit hook,
executes the code, and writes one JSON reply on stdout after a nonce marker (the task code may
print whatever it likes; only the marked line is read).

Request (one line): {"nonce", "code", "op": "instances"|"score", "max_instances", "limits":
{"cpu_s", "memory_mb", "max_processes"}, "max_judge_calls", "items": [{"instance_id", "task",
"submission"}]}.
Reply: {"instances": {id: {"task", "instructions"}}} or {"scores": {id: float}, "errors": {id: str}},
or {"fatal": "message"} when the family could not be loaded at all.  Task code may import
the stdlib modules in ``PRELOADED``; others may be unreadable once privileges are dropped.

The judge channel: ``score()`` may call ``eval_with_llm_judge(instructions, submission,
criteria) -> bool`` (a global of the task code).  The sandbox has no network, so the call writes
one line ``<nonce>J{"instructions", "submission", "criteria"}`` (each string capped at
``JUDGE_FIELD_CHARS``) and blocks on one line of stdin: ``{"verdict": bool}`` or
``{"error": str}`` (raised as RuntimeError in the task code).  At most ``max_judge_calls`` per
request; 0 (no judge configured) makes every call raise.
"""

import json
import os
import resource
import sys
import tempfile
import traceback

NOBODY = 65534
JUDGE_FIELD_CHARS = 8000
# Imported before privileges drop (as nobody the interpreter's stdlib may be unreadable): the
# modules task-family code may use.
PRELOADED = (
    "bisect collections datetime decimal fractions functools hashlib heapq itertools json math "
    "operator random re statistics string textwrap unicodedata"
).split()


def _apply_limits(limits):
    for name in PRELOADED:
        __import__(name)
    mem = int(limits["memory_mb"]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    cpu = int(limits["cpu_s"]) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_FSIZE, (16 * 1024 * 1024,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    nproc = int(limits["max_processes"])
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    if os.geteuid() == 0:  # root ignores RLIMIT_NPROC and may write anywhere: become nobody
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    os.chdir(tempfile.mkdtemp(prefix="acdc-sandbox-"))


def _block_network(event, args):
    if event.startswith("socket.") and event != "socket.gethostname":
        raise PermissionError(f"network access is not allowed in the sandbox ({event})")


def _judge_function(nonce, channel, max_calls):
    calls = [0]

    def eval_with_llm_judge(instructions, submission, criteria):
        """Ask the run's LLM judge whether ``submission`` meets ``criteria``; returns a bool."""
        if calls[0] >= max_calls:
            raise RuntimeError("no LLM judge is configured" if max_calls == 0
                               else f"more than {max_calls} judge calls in one sandbox call")
        calls[0] += 1
        fields = {"instructions": instructions, "submission": submission, "criteria": criteria}
        request = {k: str(v)[:JUDGE_FIELD_CHARS] for k, v in fields.items()}
        channel.write(nonce + "J" + json.dumps(request) + "\n")
        channel.flush()
        reply = json.loads(sys.stdin.readline() or '{"error": "judge channel closed"}')
        if "error" in reply:
            raise RuntimeError(f"judge failed: {reply['error']}")
        return bool(reply["verdict"])

    return eval_with_llm_judge


def _load_family(code, judge=None):
    namespace = {"__name__": "task_family", "eval_with_llm_judge": judge}
    exec(compile(code, "<task_family>", "exec"), namespace)
    family = namespace.get("TaskFamily")
    if family is None:
        raise ValueError("the code defines no class named TaskFamily")
    for name in ("get_tasks", "get_instructions", "score"):
        if not callable(getattr(family, name, None)):
            raise ValueError(f"TaskFamily has no method {name}()")
    return family


def _handle(req, judge):
    family = _load_family(req["code"], judge)
    if req["op"] == "instances":
        tasks = family.get_tasks()
        if not isinstance(tasks, dict) or not tasks:
            raise ValueError("get_tasks() must return a non-empty dict")
        out = {}
        for key in sorted(tasks, key=str)[: int(req["max_instances"])]:
            t = tasks[key]
            json.dumps(t)  # instances must be JSON data
            out[str(key)] = {"task": t, "instructions": str(family.get_instructions(t))}
        return {"instances": out}
    scores, errors = {}, {}
    for item in req["items"]:
        iid = item["instance_id"]
        try:
            value = float(family.score(item["task"], item["submission"]))
            if value != value:  # NaN
                raise ValueError("score() returned NaN")
            scores[iid] = min(1.0, max(0.0, value))
        except BaseException as exc:  # noqa: BLE001 - untrusted code; every failure scores 0
            scores[iid] = 0.0
            errors[iid] = f"{type(exc).__name__}: {exc}"[:500]
    return {"scores": scores, "errors": errors}


def main():
    req = json.loads(sys.stdin.readline())
    nonce = req["nonce"]
    real_stdout = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # whatever the task prints goes to stderr
    try:
        _apply_limits(req["limits"])
        sys.addaudithook(_block_network)
        judge = _judge_function(nonce, real_stdout, int(req.get("max_judge_calls", 0)))
        reply = _handle(req, judge)
    except BaseException:  # noqa: BLE001
        reply = {"fatal": traceback.format_exc(limit=3)[-1500:]}
    real_stdout.write(nonce + json.dumps(reply) + "\n")
    real_stdout.flush()


if __name__ == "__main__":
    main()
