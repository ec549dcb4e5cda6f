"""Hostile task families, run through the real sandbox as an attacker would.

For every attack: the call returns or fails within its deadline; the score that comes back is 0,
clamped, or the call fails (which scores 0); nothing is left outside the scratch folder; no
process of the call is alive afterwards; the secret in this process's environment never comes
back; and this process does not buffer what the task code floods it with.  The containment
mechanisms are checked themselves (an empty network namespace, a PID namespace, read-only mounts),
with ``ctypes`` to get past the audit hook the way a real attacker would.
"""

import dataclasses
import json
import logging
import os
import re
import resource
import secrets
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import pytest

from acdc_core.adapters.sandbox import IsolationError, Sandbox, SandboxError, SandboxLimits, client, control
from acdc_core.adapters.sandbox.client import NOBODY, RUNNER_ENV

pytestmark = pytest.mark.skipif(not client.isolation_prefix(), reason="needs PID, mount and network namespaces")

SECRET = "sk-" + secrets.token_hex(12)
LIMITS = SandboxLimits(timeout_s=3, memory_mb=256, max_processes=8, disk_mb=64, max_files=128,
                       judge_calls_per_item=2, judge_s_per_item=1.0)
SLACK_S = 4.0  # process start and teardown on a loaded 2-core machine

# The runner's judge function closes over the nonce and the reply channel: the attacker's way in.
STEAL_CHANNEL = '''
cells = [c.cell_contents for c in eval_with_llm_judge.__closure__]
nonce = next(c for c in cells if isinstance(c, str))
channel = next(c for c in cells if hasattr(c, "write"))
'''


def family(tasks_body: str = 'return {"a": {}, "b": {}}', score_body: str = "return 0.0", top: str = "") -> str:
    """A family whose get_tasks() and score() run the given (4-space indented) bodies."""
    ind = (lambda body: "\n".join("        " + line for line in body.strip("\n").splitlines()))
    return f'''{top}
class TaskFamily:
    @staticmethod
    def get_tasks():
{ind(tasks_body)}
    @staticmethod
    def get_instructions(t):
        return "x"
    @staticmethod
    def score(t, submission):
{ind(score_body)}
'''


ITEMS = [{"instance_id": "a", "task": {}, "submission": "1"}, {"instance_id": "b", "task": {}, "submission": "2"}]


@pytest.fixture(autouse=True)
def secret_env(monkeypatch):
    monkeypatch.setenv("ACDC_TEST_SECRET", SECRET)


def attempt(call):
    """Run ``call()``; returns (result or None, error text or None, seconds).  Asserts the secret
    is in neither."""
    t0 = time.monotonic()
    try:
        out, err = call(), None
    except SandboxError as exc:
        out, err = None, str(exc)
    seconds = time.monotonic() - t0
    assert SECRET not in repr(out) and SECRET not in str(err)
    return out, err, seconds


def alive_with_comm(marker: str) -> list[int]:
    pids = []
    for p in Path("/proc").glob("[0-9]*"):
        try:
            if (p / "comm").read_text().strip() == marker:
                pids.append(int(p.name))
        except OSError:
            pass
    return pids


def assert_none_alive(marker: str) -> None:
    deadline = time.monotonic() + 3
    while alive_with_comm(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert alive_with_comm(marker) == []


def test_environment_is_the_allow_list_and_parents_are_invisible():
    code = family(tasks_body='''
import os
seen = {}
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            seen[pid] = open(f"/proc/{pid}/environ").read()
        except OSError as e:
            seen[pid] = e.strerror
return {"a": {"env": dict(os.environ), "procs": seen}}''')
    out, err, _ = attempt(lambda: Sandbox(LIMITS).instances(code, 1))
    assert err is None
    task = out["a"]["task"]
    assert set(task["env"]) <= {*RUNNER_ENV, "TMPDIR"}
    # its own PID namespace: only the runner (PID 1) is there, not the parent nor the host
    assert list(task["procs"]) == ["1"]


@pytest.mark.parametrize("payload, outcome", [
    ('{"scores": {"a": 1e9, "b": -5}, "errors": {}}', {"a": 1.0, "b": 0.0}),
    ('{"scores": {"a": NaN, "b": 0}, "errors": {}}', "not a finite number"),
    ('{"scores": {"a": Infinity, "b": 0}, "errors": {}}', "not a finite number"),
    ('{"scores": {"a": 1, "b": 1, "never-asked": 1}, "errors": {}}', "instance ids differ"),
    ('{"scores": {"a": 1}, "errors": {}}', "instance ids differ"),
    ('{"scores": {"a": "1", "b": true}, "errors": {}}', "not a finite number"),
    ('{"scores": [1, 1], "errors": {}}', "must be objects"),
    ('[1, 2]', "malformed reply"),
    ('{"scores": {"a": 1', "malformed reply"),
])
def test_forged_result_line_is_validated_by_the_parent(payload, outcome):
    code = family(score_body=STEAL_CHANNEL + f'''
import os
channel.write(nonce + {payload!r} + "\\n")
channel.flush()
os._exit(0)''')
    out, err, seconds = attempt(lambda: Sandbox(LIMITS).score(code, ITEMS))
    assert seconds < LIMITS.timeout_s + SLACK_S
    if isinstance(outcome, dict):
        assert err is None and out == (outcome, {})
    else:
        assert out is None and outcome in err


def test_forged_judge_requests_are_counted_capped_and_do_not_extend_the_deadline():
    asked = []

    def judge(instructions, submission, criteria):
        asked.append((instructions, submission, criteria))
        time.sleep(0.3)
        return True

    code = family(score_body=STEAL_CHANNEL + '''
import json, sys
fields = {"instructions": "i", "submission": "s", "criteria": "c"}
huge = {"instructions": "i" * 9000, "submission": "s", "criteria": "c"}
replies = []
for req in [huge] + [fields] * 27:
    channel.write(nonce + "J" + json.dumps(req) + "\\n")
    channel.flush()
    replies.append(sys.stdin.readline())
import time
while True:  # wall clock, not CPU: the deadline ends this call, not RLIMIT_CPU
    time.sleep(0.05)''')
    _, err, seconds = attempt(lambda: Sandbox(LIMITS, judge=judge).score(code, ITEMS))
    assert "timed out" in err
    allowed = LIMITS.judge_calls_per_item * len(ITEMS)
    assert len(asked) <= allowed - 1  # the oversized request counted, never reached the judge
    assert all(len(f) <= client.JUDGE_FIELD_CHARS for req in asked for f in req)
    deadline = LIMITS.timeout_s + LIMITS.judge_s_per_item * len(ITEMS)
    assert seconds < deadline + SLACK_S


def test_detached_process_dies_with_the_call():
    """fork() through ctypes (past the audit hook) and setsid(): the PID namespace kills it."""
    marker = "acdc" + secrets.token_hex(5)
    code = family(tasks_body=f'''
import ctypes, os, time
libc = ctypes.CDLL(None)
if libc.fork() == 0:
    os.setsid()
    libc.prctl(15, {marker.encode()!r}, 0, 0, 0)  # PR_SET_NAME: what the test looks for
    while True:
        time.sleep(0.05)
time.sleep(0.5)
return {{"a": {{}}}}''')
    out, err, seconds = attempt(lambda: Sandbox(LIMITS).instances(code, 1))
    assert err is None and seconds < LIMITS.timeout_s + SLACK_S
    assert_none_alive(marker)


def test_process_creation_is_refused_by_the_hook(tmp_path):
    target = tmp_path / "pwned"
    for body in (f"import os\nos.system('touch {target}')", "import os\nos.fork()",
                 "import subprocess\nsubprocess.run(['true'])", f"import os\nos.execv('/bin/touch', ['touch', '{target}'])"):
        _, err, _ = attempt(lambda: Sandbox(LIMITS).instances(family(top=body), 1))
        assert err is not None and ("not allowed in the sandbox" in err or "ModuleNotFoundError" in err)
    assert not target.exists()


def test_shell_through_ctypes_cannot_write_outside_scratch():
    """At import time, past the hook: no shell exists in the call's root (``system`` gets exit
    status 127), and a world-writable host folder does not exist there either (where the minimal
    root is not available, it is on a read-only mount)."""
    marker = "acdc-" + secrets.token_hex(6)
    host_dir = Path("/run/lock") if Path("/run/lock").is_dir() else Path("/var/tmp")
    top = (f"import ctypes\nRC = ctypes.CDLL(None).system("
           f"b'touch /tmp/{marker} && touch {host_dir}/{marker} 2>/dev/null')")
    body = f"""import os
try:
    open("{host_dir}/{marker}", "w")
    opened = "written"
except OSError as e:
    opened = e.strerror
return {{"a": {{"rc": RC, "scratch": os.listdir("/tmp"), "opened": opened}}}}"""
    out, err, _ = attempt(lambda: Sandbox(LIMITS).instances(family(top=top, tasks_body=body), 1))
    assert err is None
    task = out["a"]["task"]
    if client.isolation_features().get("root") == "minimal":
        assert task["rc"] == 127 << 8 and task["scratch"] == []  # no /bin/sh
        assert task["opened"] == "No such file or directory"
    else:
        assert task["scratch"] == [marker] and task["rc"] != 0  # the shell ran, in the scratch
        assert task["opened"] == "Read-only file system"
    assert not (host_dir / marker).exists() and not (Path("/tmp") / marker).exists()


def test_every_mount_but_the_scratch_is_read_only():
    code = family(tasks_body='return {"a": {"mounts": open("/proc/self/mountinfo").read().splitlines()}}')
    out, err, _ = attempt(lambda: Sandbox(LIMITS).instances(code, 1))
    assert err is None
    mounts = {line.split()[4]: line.split()[5].split(",") for line in out["a"]["task"]["mounts"]}
    assert "rw" in mounts["/tmp"]
    writable = [p for p, opts in mounts.items() if "ro" not in opts and p != "/tmp"
                and p != "/proc" and not p.startswith("/proc/")]
    assert writable == []


def test_writes_land_only_in_the_private_scratch_and_vanish(tmp_path):
    marker = "acdc-" + secrets.token_hex(6)
    places = ["/tmp", "/var/tmp", "/dev/shm", str(tmp_path), str(Path.home()), os.getcwd(), "."]
    code = family(tasks_body=f'''
import os
result = {{"cwd": os.getcwd()}}
for place in {places!r}:
    try:
        with open(os.path.join(place, {marker!r}), "w") as f:
            f.write("x")
        result[place] = "written"
    except OSError as e:
        result[place] = e.strerror
return {{"a": result}}''')
    out, err, _ = attempt(lambda: Sandbox(LIMITS).instances(code, 1))
    assert err is None
    result = out["a"]["task"]
    assert result["cwd"] == "/tmp" and result["/tmp"] == result["."] == "written"
    assert all(result[p] != "written" for p in places[1:-1])
    for place in places:
        assert not (Path(place) / marker).exists()


def test_scratch_disk_and_file_count_are_capped():
    code = family(tasks_body='''
out = {}
n = 0
try:
    while n < 64:
        with open(f"big{n}", "wb") as f:
            f.write(b"x" * (16 << 20))
        n += 1
except OSError as e:
    out["big_error"] = e.strerror
out["big_files"] = n
n = 0
try:
    while n < 10000:
        open(f"small{n}", "w").close()
        n += 1
except OSError as e:
    out["small_error"] = e.strerror
out["small_files"] = n
try:
    open("huge", "wb").write(b"x" * (17 << 20))
except OSError as e:
    out["huge_error"] = e.strerror
return {"a": out}''')
    out, err, _ = attempt(lambda: Sandbox(LIMITS).instances(code, 1))
    assert err is None
    r = out["a"]["task"]
    assert r["big_files"] * 16 <= LIMITS.disk_mb and r["big_error"] == "No space left on device"
    assert r["small_files"] < LIMITS.max_files and r["small_error"] == "No space left on device"
    assert r["huge_error"] in ("File too large", "No space left on device")


@pytest.mark.parametrize("body, stream", [
    ("import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(300):\n    sys.stderr.write(chunk)", "stderr"),
    ("print('y' * (50 << 20), end='')", "stderr"),
    (STEAL_CHANNEL + "for _ in range(40):\n    channel.write('z' * (1 << 20))\nchannel.flush()", "stdout"),
])
def test_output_floods_are_capped_without_buffering(body, stream):
    code = family(tasks_body=body + "\nreturn {'a': {}}")
    tracemalloc.start()
    try:
        _, err, seconds = attempt(lambda: Sandbox(LIMITS).instances(code, 1))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert err is not None and f"bytes to {stream}" in err
    assert peak < 32 * 1024 * 1024  # the parent holds at most the caps (8 MiB stdout), not the flood
    assert seconds < LIMITS.timeout_s + SLACK_S


def test_network_namespace_has_no_route_and_the_hook_refuses_sockets():
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    code = family(tasks_body=f'''
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.socket(2, 1, 0)
addr = bytes([2, 0]) + ({port}).to_bytes(2, "big") + bytes([127, 0, 0, 1]) + bytes(8)
rc = libc.connect(fd, addr, 16)
out = {{"rc": rc, "errno": ctypes.get_errno()}}
import socket
try:
    socket.socket()
except PermissionError as e:
    out["hook"] = str(e)
return {{"a": out}}''')
    try:
        out, err, _ = attempt(lambda: Sandbox(LIMITS).instances(code, 1))
        with pytest.raises(TimeoutError):
            listener.accept()
    finally:
        listener.close()
    assert err is None
    r = out["a"]["task"]
    assert r["rc"] == -1 and os.strerror(r["errno"]) == "Network is unreachable"
    assert "not allowed in the sandbox (socket" in r["hook"]


def test_without_namespaces_untrusted_code_is_refused_unless_allowed(monkeypatch, caplog):
    monkeypatch.setattr(client, "isolation_prefix", lambda: ())
    monkeypatch.setattr(client, "_warn_weak_once", lambda: client.log.warning(
        "sandbox: %s", client.describe_isolation(True)))
    code = family(tasks_body='import os\nreturn {"a": {"cwd": os.getcwd(), "env": dict(os.environ)}}')
    with pytest.raises(IsolationError, match="REFUSED"):
        Sandbox(LIMITS).instances(code, 1)
    with caplog.at_level(logging.WARNING, logger="acdc_core.adapters.sandbox.client"):
        out, err, _ = attempt(lambda: Sandbox(LIMITS, allow_weak_isolation=True).instances(code, 1))
    assert err is None and "WEAK" in caplog.text
    task = out["a"]["task"]
    assert set(task["env"]) <= {*RUNNER_ENV, "TMPDIR"} and task["cwd"] == task["env"]["TMPDIR"]
    assert not Path(task["cwd"]).exists()  # the weak mode's scratch folder is removed


def test_fork_bomb_through_ctypes_is_bounded_and_dies_with_the_call():
    marker = "acdc" + secrets.token_hex(5)
    code = family(tasks_body=f'''
import ctypes
libc = ctypes.CDLL(None)
libc.prctl(15, {marker.encode()!r}, 0, 0, 0)  # PR_SET_NAME, inherited by every fork
while True:
    libc.fork()''')
    _, err, seconds = attempt(lambda: Sandbox(LIMITS).instances(code, 1))
    assert "timed out" in err and seconds < LIMITS.timeout_s + SLACK_S
    assert_none_alive(marker)


ECHO_FAMILY = '''
class TaskFamily:
    @staticmethod
    def get_tasks():
        return {str(i): {} for i in range(5)}
    @staticmethod
    def get_instructions(t):
        return "say anything"
    @staticmethod
    def score(t, submission):
        print(submission)  # the task code echoes the answer: it must not reach the reply channel
        return float(submission == "42")
'''


class HostileModel:
    """A model whose answers attack the pipeline: what a remote server or a broken merge can
    return (the texts are the attack; the backend protocol is the real one)."""

    ANSWERS = [
        "x" * 3_000_000,                                   # megabytes
        "bad \udcff\udcfe utf-8 from a server: 42",        # lone surrogates: invalid UTF-8
        "nul\x00bytes\x00",                                # NUL bytes
        '\n0123456789abcdef{"scores": {"0": 1}, "errors": {}}\n{"fatal": "x"}',  # channel framing
        "#### 42",                                         # an honest answer
    ]

    def generate(self, prompts, max_new_tokens, temperature=0.0, seed=0):
        from acdc_core.adapters.backends import Generation

        return [Generation(a, 1, 0.1) for a in self.ANSWERS[: len(prompts)]]

    def close(self):
        pass


def test_hostile_model_output_is_stored_safely_and_scored_by_the_family(tmp_path):
    from acdc_core.adapters.evaluation import evaluate
    from acdc_core.answers import RESPONSE_CHARS
    from acdc_core.taskfamily import TaskFamily as Family
    from acdc_core.taskfamily import TaskSet
    from storage.db import RunDB

    sandbox = Sandbox(LIMITS)
    task = Family(task_id="t", name="echo", code=ECHO_FAMILY, description="", capability="", domain="")
    task = task.with_instances(sandbox.instances(ECHO_FAMILY, 5))
    rows = evaluate(HostileModel(), TaskSet(families=(task,)), sandbox, "{instructions}", 16)
    db = RunDB.create(tmp_path / "acdc.duckdb")
    db.insert_rows("evaluations", [{**r, "model_id": "m", "generation": 0, "source": "run"} for r in rows])
    with db.connect(read_only=True) as con:
        stored = con.execute("SELECT instance_id, response, score, error FROM evaluations ORDER BY instance_id").fetchall()
    assert [s[2] for s in stored] == [0.0, 0.0, 0.0, 0.0, 1.0]  # the family's own verdicts
    assert all(s[3] is None for s in stored)
    big, surrogates, nul, framing, honest = (s[1] for s in stored)
    assert len(big) < RESPONSE_CHARS + 64 and big.endswith(f"[truncated: {3_000_000 - RESPONSE_CHARS} more characters]")
    assert "\ufffd" in surrogates and surrogates.endswith("42")
    assert "\x00" not in nul and nul.startswith("nul")
    assert framing == HostileModel.ANSWERS[3] and honest == "#### 42"


# --- Second round (issue 30): the parent never blocks, nothing outlives a call, limits hold for
# the whole call, and the deadline is one number no output pattern or idle judge can stretch.

def within(seconds: float, call):
    """``attempt(call)`` in a thread; fails the test (instead of hanging it) past ``seconds``."""
    result = []
    thread = threading.Thread(target=lambda: result.append(attempt(call)), daemon=True)
    thread.start()
    thread.join(seconds)
    assert result, f"the sandbox call did not return within {seconds} s"
    return result[0]


def assert_gone_within(marker: str, seconds: float) -> None:
    """No host process named ``marker`` (zombies included) ``seconds`` after the call ended."""
    time.sleep(seconds)
    assert alive_with_comm(marker) == []


def test_judge_flood_that_never_reads_stdin_times_out():
    """5,000 judge requests and never a read: the answers fill the runner's stdin pipe; the parent
    writes them from its own thread, so the call still ends at its deadline."""
    code = family(score_body=STEAL_CHANNEL + '''
import json, time
line = nonce + "J" + json.dumps({"instructions": "i", "submission": "s", "criteria": "c"}) + "\\n"
for _ in range(5000):
    channel.write(line)
channel.flush()
while True:
    time.sleep(0.05)''')
    _, err, seconds = within(60, lambda: Sandbox(LIMITS, judge=lambda *a: True).score(code, ITEMS))
    assert err is not None and "timed out" in err
    assert seconds < LIMITS.timeout_s + LIMITS.judge_s_per_item * len(ITEMS) + SLACK_S


NAME = "import ctypes\nlibc = ctypes.CDLL(None)\nlibc.prctl(15, MARKER, 0, 0, 0)  # PR_SET_NAME\n"
REPLY_THEN_STAY = STEAL_CHANNEL + '''
import json, time
channel.write(nonce + json.dumps({"instances": {"a": {"task": {}, "instructions": "x"}}}) + "\\n")
channel.flush()
while True:
    time.sleep(0.05)'''


@pytest.mark.parametrize("body, replies", [
    # the runner itself leaves the process group and keeps running: a timeout
    (NAME + "import os, time\nos.setsid()\nwhile True:\n    time.sleep(0.05)", False),
    # ... or writes a valid reply first, then keeps running: a success
    (NAME + "import os\nos.setsid()\n" + REPLY_THEN_STAY, True),
    # it clears the parent-death signal (PR_SET_PDEATHSIG 0) as well
    (NAME + "import os\nlibc.prctl(1, 0, 0, 0, 0)\nos.setsid()\n" + REPLY_THEN_STAY, True),
    # a double fork: the grandchild is re-parented to the namespace's init, in a new session
    (NAME + '''import os, time
if libc.fork() == 0:
    if libc.fork() == 0:
        os.setsid()
        while True:
            time.sleep(0.05)
    os._exit(0)
time.sleep(0.3)
return {"a": {}}''', True),
])
def test_no_process_of_the_call_survives_it(body, replies):
    marker = "acdc" + secrets.token_hex(5)
    code = family(top=f"MARKER = {marker.encode()!r}", tasks_body=body)
    out, err, seconds = within(30, lambda: Sandbox(LIMITS).instances(code, 1))
    assert (err is None) == replies, err
    assert seconds < LIMITS.timeout_s + SLACK_S
    assert_gone_within(marker, 1.0)


def test_system_v_ipc_does_not_outlive_the_call():
    """A 32 MiB shared-memory segment and a message queue made through ctypes live in the call's
    own IPC namespace: the host has neither afterwards."""
    key = secrets.randbelow(1 << 30) + 1
    code = family(tasks_body=f'''
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
shm = libc.shmget({key}, 32 << 20, 0o1666)  # IPC_CREAT | 0666
msg = libc.msgget({key}, 0o1666)
return {{"a": {{"shm": shm, "msg": msg}}}}''')
    out, err, _ = attempt(lambda: Sandbox(LIMITS).instances(code, 1))
    assert err is None and out["a"]["task"]["shm"] >= 0 and out["a"]["task"]["msg"] >= 0
    for table in ("shm", "msg"):
        keys = [int(line.split()[0]) for line in Path(f"/proc/sysvipc/{table}").read_text().splitlines()[1:]]
        assert key not in keys


needs_cgroup = pytest.mark.skipif(control.cgroup_base() is None, reason="needs a cgroup v2 this process may create")


@needs_cgroup
def test_memory_limit_holds_for_all_processes_of_the_call():
    """6 forked processes of 100 MiB each under ``memory_mb: 256``: each is under the per-process
    address-space limit, together they are not."""
    marker = "acdc" + secrets.token_hex(5)
    code = family(top=f"MARKER = {marker.encode()!r}", tasks_body=NAME + '''
import time
for _ in range(6):
    if libc.fork() == 0:
        block = b"x" * (100 << 20)
        while True:
            time.sleep(0.05)
while True:
    time.sleep(0.05)''')
    _, err, seconds = within(30, lambda: Sandbox(LIMITS).instances(code, 1))
    assert err is not None and f"the limit is {LIMITS.memory_mb} MiB" in err
    assert seconds < LIMITS.timeout_s + SLACK_S
    assert_gone_within(marker, 1.0)


@needs_cgroup
def test_cpu_limit_holds_for_all_processes_and_judge_time_is_not_family_time():
    """Re-forking CPU burners on every core while the judge is asked: the call's processes get
    ``timeout_s`` CPU seconds together (measured as this process's reaped children's CPU time)."""
    code = family(score_body=STEAL_CHANNEL + '''
import ctypes, json, os, sys
libc = ctypes.CDLL(None)
for _ in range(4):
    if libc.fork() == 0:
        while True:
            if libc.fork() == 0:
                continue  # the child burns on; the parent is replaced by it
            os._exit(0)
while True:
    channel.write(nonce + "J" + json.dumps({"instructions": "i", "submission": "s", "criteria": "c"}) + "\\n")
    channel.flush()
    sys.stdin.readline()''')
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    _, err, seconds = within(60, lambda: Sandbox(LIMITS, judge=lambda *a: time.sleep(0.4) or True).score(code, ITEMS))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert err is not None and "timed out" in err
    assert cpu < LIMITS.timeout_s + 1.0


def test_a_flood_of_short_lines_cannot_stretch_the_deadline():
    """7.9 MB of short lines, written slowly enough to last well past the deadline."""
    code = family(tasks_body=STEAL_CHANNEL + '''
import time
for _ in range(3950):
    channel.write("x\\n" * 1000)
    channel.flush()
    time.sleep(0.003)
return {"a": {}}''')
    _, err, seconds = within(60, lambda: Sandbox(LIMITS).instances(code, 1))
    assert err is not None and "timed out" in err
    assert seconds < LIMITS.timeout_s + SLACK_S


def test_an_idle_judge_does_not_extend_the_call_and_the_error_tells_the_real_time():
    """A judge is configured (5 s per item, 4 items) but never called: the call ends near
    ``timeout_s``, not 20 s later, and its message gives the time it really took."""
    limits = dataclasses.replace(LIMITS, timeout_s=2, judge_s_per_item=5.0)
    code = family(score_body="import time\nwhile True:\n    time.sleep(0.05)")
    items = [{"instance_id": str(i), "task": {}, "submission": ""} for i in range(4)]
    _, err, seconds = within(60, lambda: Sandbox(limits, judge=lambda *a: True).score(code, items))
    assert seconds < limits.timeout_s + SLACK_S
    reported = float(re.search(r"timed out after ([0-9.]+) s", err).group(1))
    assert abs(reported - seconds) < 1.0
    assert "LLM judge 0.0 s" in err


def test_a_judge_slower_than_its_budget_ends_the_call_as_a_judge_timeout():
    code = family(score_body="return float(eval_with_llm_judge('i', submission, 'c'))")
    _, err, seconds = within(60, lambda: Sandbox(LIMITS, judge=lambda *a: time.sleep(30)).score(code, ITEMS))
    assert err is not None and "LLM judge took longer than the judge budget" in err
    assert seconds < LIMITS.timeout_s + LIMITS.judge_s_per_item * len(ITEMS) + SLACK_S


# --- Third round (issue 30): the family sees a minimal root, not the host's tree, and keyrings
# of its own.

README = Path(__file__).resolve().parents[1] / "README.md"
needs_minimal_root = pytest.mark.skipif(client.isolation_features().get("root") != "minimal",
                                        reason="this machine falls back to the host's tree, read-only")


@needs_minimal_root
def test_host_files_and_unix_sockets_do_not_exist_for_the_family(tmp_path):
    """/etc/passwd, the project's README (absolute path) and a world-writable unix socket that this
    process listens on at a host path: the family can open none of them, connect to nothing
    (``ctypes`` past the hook), and the judge never receives host file content."""
    host_dir = Path("/run/lock") if Path("/run/lock").is_dir() else Path("/var/tmp")
    sock_path = host_dir / f"acdc-{secrets.token_hex(4)}.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(sock_path))
    os.chmod(sock_path, 0o777)  # anyone on the host may connect
    listener.listen(1)
    listener.settimeout(0.5)
    asked = []
    code = family(score_body=f'''
import ctypes, os
out = {{}}
texts = []
for path in ["/etc/passwd", {str(README)!r}]:
    try:
        texts.append(open(path).read())
        out[path] = "read"
    except OSError as e:
        out[path] = e.strerror
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.socket(1, 1, 0)  # AF_UNIX, SOCK_STREAM
addr = (1).to_bytes(2, "little") + {str(sock_path).encode()!r}.ljust(108, b"\\0")
out["connect"] = [libc.connect(fd, addr, len(addr)), os.strerror(ctypes.get_errno())]
eval_with_llm_judge("\\n".join(texts) or repr(out), submission, "c")
raise RuntimeError(repr(out))''')
    try:
        _, errors = Sandbox(LIMITS, judge=lambda *fields: asked.append(fields) or True).score(code, ITEMS)
        with pytest.raises(TimeoutError):
            listener.accept()
    finally:
        listener.close()
        sock_path.unlink()
    seen = eval(errors["a"].removeprefix("RuntimeError: "))  # the family's own report, a dict literal
    assert seen == {"/etc/passwd": "No such file or directory", str(README): "No such file or directory",
                    "connect": [-1, "No such file or directory"]}
    host_lines = [Path("/etc/passwd").read_text().splitlines()[0], README.read_text().splitlines()[0]]
    assert asked and not any(line in field for fields in asked for field in fields for line in host_lines)


@needs_minimal_root
def test_the_calls_root_holds_only_what_task_code_needs():
    """The root is a read-only tmpfs; every other mount is one of the parent's binds (interpreter,
    stdlib, shared libraries), the call's /proc, /dev's three devices or the scratch."""
    code = family(tasks_body='''
import os
return {"a": {"mounts": open("/proc/self/mountinfo").read().splitlines(), "top": sorted(os.listdir("/")),
              "dev": sorted(os.listdir("/dev")), "etc": os.listdir("/etc")}}''')
    out, err, _ = attempt(lambda: Sandbox(LIMITS).instances(code, 1))
    assert err is None
    task = out["a"]["task"]
    mounts = {line.split()[4]: line.split(" - ")[1].split()[0] for line in task["mounts"]}
    assert mounts.pop("/") == "tmpfs" and mounts.pop("/tmp") == "tmpfs" and mounts.pop("/proc") == "proc"
    assert mounts.pop("/dev") == "tmpfs" and {mounts.pop(f"/dev/{d}") for d in ("null", "zero", "urandom")}
    assert all(any(m == a or m.startswith(a + "/") for a in client.root_binds()) for m in mounts), mounts
    assert not {"home", "work", "run", "var", "bin", "sbin", "sys", "mnt"} & set(task["top"])
    assert set(task["etc"]) <= {"ld.so.cache"}
    assert set(task["dev"]) == {"null", "zero", "urandom", "fd", "stdin", "stdout", "stderr"}


KEY_SYSCALLS = {"x86_64": (248, 249, 250), "aarch64": (217, 218, 219)}  # add_key, request_key, keyctl


@pytest.mark.skipif(os.uname().machine not in KEY_SYSCALLS, reason="key system call numbers unknown here")
def test_keyrings_are_the_calls_own():
    """A family adds a key to its session keyring and to its user keyring (readable by every
    process of its uid); nothing with that description is left on the host once the kernel's key
    collector has run (/proc/keys, read as the calls' uid), and the next call finds neither."""
    desc = "acdc-" + secrets.token_hex(6)
    add_key, request_key, keyctl = KEY_SYSCALLS[os.uname().machine]
    prelude = '''
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
'''
    first = family(tasks_body=prelude + f'''
out = {{}}
for ring, name in ((-3, b"{desc}-session"), (-4, b"{desc}-user")):  # KEY_SPEC_SESSION/USER_KEYRING
    serial = libc.syscall({add_key}, b"user", name, b"left for the next call", 22, ring)
    libc.syscall({keyctl}, 5, serial, 0x3F3F0000)  # KEYCTL_SETPERM: possessor and user may do all
    out[name.decode()] = serial
return {{"a": out}}''')
    second = family(tasks_body=prelude + f'''
out = {{}}
for name in (b"{desc}-session", b"{desc}-user"):
    found = [libc.syscall({request_key}, b"user", name, None, 0)]
    found += [libc.syscall({keyctl}, 10, ring, b"user", name, 0) for ring in (-3, -4, -5)]  # KEYCTL_SEARCH
    out[name.decode()] = found
out["proc_keys"] = "{desc}" in open("/proc/keys").read()
return {{"a": out}}''')
    out, err, _ = attempt(lambda: Sandbox(LIMITS).instances(first, 1))
    assert err is None and all(serial > 0 for serial in out["a"]["task"].values()), out
    as_calls = {"user": NOBODY, "group": NOBODY, "extra_groups": []} if os.geteuid() == 0 else {}
    deadline = time.monotonic() + 5  # the call's keyrings go once its last process is gone, soon after
    while desc in (left := subprocess.run(["cat", "/proc/keys"], capture_output=True, text=True, **as_calls).stdout):
        assert time.monotonic() < deadline, left
        time.sleep(0.05)
    out, err, _ = attempt(lambda: Sandbox(LIMITS).instances(second, 1))
    assert err is None
    found = out["a"]["task"]
    assert found.pop("proc_keys") is False
    assert found == {f"{desc}-session": [-1] * 4, f"{desc}-user": [-1] * 4}


def test_describe_isolation_says_what_this_machine_gives(monkeypatch):
    line = client.describe_isolation(False)
    features = client.isolation_features()
    assert ("a minimal root" in line) == (features.get("root") == "minimal")
    assert f"keyrings: {features.get('keyring')}" in line
    monkeypatch.setattr(client, "isolation_features", lambda: {"root": "host (no pivot_root)", "keyring": "k"})
    assert "sees the host's files, read-only, and its unix sockets" in client.describe_isolation(False)


def test_without_a_minimal_root_the_call_falls_back_to_the_hosts_tree_read_only(tmp_path):
    """Where the minimal root cannot be built (here: no pivot_root system call number), the runner
    detaches what it had built and contains the call as before: the host's tree, every mount
    read-only, the scratch at /tmp."""
    script = f'''
import json, os, sys
sys.path.insert(0, {str(Path(client._RUNNER).parent)!r})
import runner
runner.SYSCALLS.clear()
runner._isolate_filesystem({{"disk_mb": 8, "max_files": 16}}, {list(client.root_binds())!r})
top = {{m[4]: m[5].split(",") for m in (line.split() for line in open("/proc/self/mountinfo"))}}  # the last one
print(json.dumps({{"features": runner.FEATURES,
                  "writable": [p for p, opts in top.items() if "rw" in opts and not p.startswith("/proc")],
                  "partial_root": [p for p in top if p.startswith("/tmp/")],
                  "passwd": os.path.exists("/etc/passwd"), "scratch": os.listdir("/tmp")}}))
'''
    res = subprocess.run([*client.isolation_prefix(), sys.executable, "-I", "-S", "-c", script],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)
    assert got["features"]["root"].startswith("host (") and "pivot_root" in got["features"]["root"]
    assert got["passwd"] and got["scratch"] == [] and got["partial_root"] == []
    assert got["writable"] == ["/tmp"]


USER_NS_PREFIX = ("unshare", "-r", *client._NAMESPACES)


def user_namespaces_work():
    try:
        return subprocess.run([*USER_NS_PREFIX, "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.skipif(not user_namespaces_work(), reason="needs user namespaces")
def test_under_unshare_r_task_code_keeps_uid_0_of_the_call_without_capabilities(monkeypatch):
    """The mode a parent that is not root gets (``unshare -r``): nobody is not mapped there, so
    the runner cannot become nobody; it drops every capability instead (it used to fail every
    call on ``setgroups``), and task code can neither remount nor write outside its scratch."""
    monkeypatch.setattr(client, "isolation_prefix", lambda: USER_NS_PREFIX)
    code = family(tasks_body='''
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
caps = {l.split(":")[0]: int(l.split()[1], 16) for l in open("/proc/self/status") if l.startswith("Cap")}
rc = libc.mount(None, b"/", None, 32 | 4096, None)  # MS_REMOUNT | MS_BIND, read-write
out = {"uid": os.getuid(), "caps": [caps["CapEff"], caps["CapPrm"]], "remount": [rc, ctypes.get_errno()]}
try:
    open("/usr/acdc-x", "w")
except OSError as e:
    out["write"] = e.strerror
return {"a": out}''')
    out, err, _ = attempt(lambda: Sandbox(LIMITS).instances(code, 1))
    assert err is None, err
    task = out["a"]["task"]
    assert task["uid"] == 0 and task["caps"] == [0, 0]
    assert task["remount"] == [-1, 1]  # EPERM
    assert task["write"] in ("Read-only file system", "Permission denied")
