"""The sandbox runs honest task families and contains the plain failures: time, memory, processes,
network, crashes.  Attacks on it are in test_sandbox_attacks."""

import pytest

from acdc_core.adapters.sandbox import Sandbox, SandboxError, SandboxLimits

FAMILY = '''
class TaskFamily:
    @staticmethod
    def get_tasks():
        return {"a": {"x": 2}, "b": {"x": 3}, "c": {"x": 4}}
    @staticmethod
    def get_instructions(t):
        return f"double {t['x']}"
    @staticmethod
    def score(t, submission):
        print("task code may print; it must not corrupt the reply")
        if submission == "boom":
            raise RuntimeError("score crashed")
        return float(submission.strip() == str(2 * t["x"]))
'''


def wrap(body: str) -> str:
    """A family whose get_tasks() runs ``body`` first."""
    indented = "\n".join("        " + line for line in body.splitlines())
    return f'''
class TaskFamily:
    @staticmethod
    def get_tasks():
{indented}
        return {{"a": {{}}}}
    @staticmethod
    def get_instructions(t):
        return "x"
    @staticmethod
    def score(t, s):
        return 1.0
'''


@pytest.fixture(scope="module")
def sandbox():
    return Sandbox(SandboxLimits(timeout_s=3, memory_mb=256, max_processes=8))


def test_instances_and_scores(sandbox):
    inst = sandbox.instances(FAMILY, max_instances=2)
    assert list(inst) == ["a", "b"]
    assert inst["a"] == {"task": {"x": 2}, "instructions": "double 2"}
    scores, errors = sandbox.score(FAMILY, [
        {"instance_id": "a", "task": {"x": 2}, "submission": "4"},
        {"instance_id": "b", "task": {"x": 3}, "submission": "5"},
        {"instance_id": "c", "task": {"x": 4}, "submission": "boom"},
    ])
    assert scores == {"a": 1.0, "b": 0.0, "c": 0.0}
    assert list(errors) == ["c"] and "score crashed" in errors["c"]


@pytest.mark.parametrize("body, match", [
    ("while True:\n    pass", "timed out"),
    ("x = bytearray(2 * 1024 ** 3)", "MemoryError"),
    ("import os\nfor _ in range(64):\n    os.fork()", r"not allowed in the sandbox \(os.fork\)"),
    ("def f(n):\n    return f(n + 1)\nf(0)", "RecursionError"),
    ("raise ValueError('bad family')", "ValueError: bad family"),
    ("import os\nos._exit(3)", "died"),
])
def test_limits(sandbox, body, match):
    with pytest.raises(SandboxError, match=match):
        sandbox.instances(wrap(body), 1)


def test_sockets_meet_the_audit_hook(sandbox):
    """``socket`` is importable in the sandbox, so the hook is what refuses it (the empty network
    namespace behind it is tested in test_sandbox_attacks)."""
    body = "import socket\ns = socket.socket()\ns.connect(('127.0.0.1', 9))"
    with pytest.raises(SandboxError, match=r"not allowed in the sandbox \(socket"):
        sandbox.instances(wrap(body), 1)


def test_not_python_and_no_family(sandbox):
    with pytest.raises(SandboxError, match="SyntaxError"):
        sandbox.instances("def broken(:\n", 1)
    with pytest.raises(SandboxError, match="no class named TaskFamily"):
        sandbox.instances("x = 1", 1)
    with pytest.raises(SandboxError, match="JSON|serializable"):
        sandbox.instances(FAMILY.replace('{"x": 2}', "{'x': object()}"), 1)
