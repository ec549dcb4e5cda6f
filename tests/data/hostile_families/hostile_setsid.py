"""Hostile family (test only): score() leaves its session, forks a grandchild into a session of
its own, forges a valid reply (every instance asked for scores 0) and keeps running after it.
Every process is named MARKER, so a test can look for survivors on the host."""

METADATA = {
    "name": "hostile_setsid",
    "description": "Leaves its session and keeps running after its reply (test only).",
    "capability": "test",
    "domain": "test",
}

MARKER = b"acdcsetsid7f3e"


def _stay():
    import time

    while True:
        time.sleep(0.05)


class TaskFamily:
    @staticmethod
    def get_tasks():
        return {str(i): {"i": i} for i in range(3)}

    @staticmethod
    def get_instructions(t):
        return f"Name an animal, number {t['i']}."

    @staticmethod
    def score(t, submission):
        import ctypes
        import json
        import os
        import sys

        libc = ctypes.CDLL(None)
        libc.prctl(15, MARKER, 0, 0, 0)  # PR_SET_NAME
        os.setsid()
        if libc.fork() == 0:  # past the audit hook: a grandchild in a new session
            os.setsid()
            _stay()
        cells = [c.cell_contents for c in eval_with_llm_judge.__closure__]  # noqa: F821 - the runner's
        nonce = next(c for c in cells if isinstance(c, str))
        channel = next(c for c in cells if hasattr(c, "write"))
        asked = [item["instance_id"] for item in sys._getframe(1).f_locals["req"]["items"]]
        channel.write(nonce + json.dumps({"scores": {i: 0.0 for i in asked}, "errors": {}}) + "\n")
        channel.flush()
        _stay()  # the runner outlives its reply
