"""Generated programs checked against their tests in the sandbox, never on the host.

A code benchmark's item passes when its program (the model's code followed by the benchmark's
tests) runs to the end without an exception.  The programs run inside
:class:`acdc_core.adapters.sandbox.client.Sandbox` through a fixed, trusted task family whose
``score()`` executes the submission under a per-program timer: several programs share one
sandbox call, and a call that fails as a whole (a program that kills the interpreter, floods its
output or outlives the call) is repeated one program per call, so only the culprit scores 0.
"""

from __future__ import annotations

import dataclasses

from acdc_core.adapters.sandbox.client import Sandbox, SandboxError

# The trusted family: each instance's "submission" is a whole program; "seconds" its timer.
CHECKER = '''
import signal


class TaskFamily:
    @staticmethod
    def get_tasks():
        return {"0": {}}

    @staticmethod
    def get_instructions(task):
        return ""

    @staticmethod
    def score(task, submission):
        def stop(signum, frame):
            raise TimeoutError("the program ran past its time")

        signal.signal(signal.SIGALRM, stop)
        signal.setitimer(signal.ITIMER_REAL, float(task["seconds"]))
        try:
            exec(compile(submission, "<program>", "exec"), {"__name__": "program"})
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        return 1.0
'''


def run_tests(sandbox: Sandbox, programs: list[str], seconds: float = 3.0, per_call: int = 16) -> list[tuple[bool, str | None]]:
    """Run each program of ``programs`` in ``sandbox``.

    Args:
        programs: whole Python programs (code, then the asserts that test it).
        seconds: wall-clock time of one program; a call of n programs gets n * ``seconds`` + 2 s,
            and the sandbox's memory and process limits.
        per_call: programs per sandbox call.

    Returns:
        (passed, error) per program, in order: error is the exception a failing program raised
        ("SandboxError: ..." when it broke its call), None when it passed.
    """
    out: list[tuple[bool, str | None]] = []
    for start in range(0, len(programs), per_call):
        chunk = programs[start:start + per_call]
        try:
            out += _call(sandbox, chunk, seconds)
        except SandboxError:
            for program in chunk:
                try:
                    out += _call(sandbox, [program], seconds)
                except SandboxError as exc:
                    out.append((False, f"SandboxError: {exc}"[:500]))
    return out


def _call(sandbox: Sandbox, programs: list[str], seconds: float) -> list[tuple[bool, str | None]]:
    limits = dataclasses.replace(sandbox.limits, timeout_s=seconds * len(programs) + 2.0, judge_calls_per_item=0)
    one = Sandbox(limits, allow_weak_isolation=sandbox.allow_weak_isolation)
    items = [{"instance_id": str(k), "task": {"seconds": seconds}, "submission": p} for k, p in enumerate(programs)]
    scores, errors = one.score(CHECKER, items)
    return [(scores[str(k)] >= 1.0, errors.get(str(k))) for k in range(len(programs))]
