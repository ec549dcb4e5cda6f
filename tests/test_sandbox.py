"""The sandbox contains untrusted task-family code: time, memory, processes, network, crashes."""

import os

import pytest

from acdc_core.sandbox import Sandbox, SandboxError, SandboxLimits

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
    ("import os\nfor _ in range(64):\n    os.fork()", "BlockingIOError|Resource temporarily unavailable"),
    ("raise ValueError('bad family')", "ValueError: bad family"),
    ("import os\nos._exit(3)", "died"),
])
def test_limits(sandbox, body, match):
    with pytest.raises(SandboxError, match=match):
        sandbox.instances(wrap(body), 1)


def test_network_is_unreachable(sandbox):
    body = "import socket\ns = socket.socket()\ns.settimeout(2)\ns.connect(('127.0.0.1', 9))"
    with pytest.raises(SandboxError) as err:
        sandbox.instances(wrap(body), 1)
    # no namespace: blocked by the audit hook; with one: socket is not importable as nobody, or
    # the connection is refused/unreachable inside the empty namespace
    assert any(s in str(err.value) for s in ("network access is not allowed", "ModuleNotFoundError",
                                              "Network is unreachable", "ConnectionRefused", "PermissionError"))


def test_not_python_and_no_family(sandbox):
    with pytest.raises(SandboxError, match="SyntaxError"):
        sandbox.instances("def broken(:\n", 1)
    with pytest.raises(SandboxError, match="no class named TaskFamily"):
        sandbox.instances("x = 1", 1)
    with pytest.raises(SandboxError, match="JSON|serializable"):
        sandbox.instances(FAMILY.replace('{"x": 2}', "{'x': object()}"), 1)


@pytest.mark.skipif(os.geteuid() != 0, reason="privilege drop to nobody happens only when started as root")
def test_cannot_write_outside_its_folder(sandbox, tmp_path):
    target = tmp_path / "owned"
    body = f"open({str(target)!r}, 'w').write('x')"
    with pytest.raises(SandboxError, match="PermissionError|Permission denied"):
        sandbox.instances(wrap(body), 1)
    assert not target.exists()
