"""The parent's handle on one sandbox call, which the task code cannot shed.

Two handles, both held by this process only:

- a pidfd on the runner.  Isolated, the runner is PID 1 of the call's PID namespace, so killing
  it kills every process of the call, whatever they did (``setsid``, double forks, re-parenting,
  a cleared parent-death signal).  A pidfd names that one process: it cannot be recycled.
- where the machine has cgroup v2 and lets this process create cgroups, a cgroup per call.
  ``cgroup.kill`` ends every process in it (namespaces or not); ``cpu.stat`` gives the CPU time of
  all its processes; ``memory.current`` (memory controller) or the summed resident sets of its
  processes give its memory; ``memory.max`` and ``pids.max`` are set where those controllers are
  delegated to it; ``cgroup.freeze`` stops the task code while the parent asks the judge.

Only the standard library; Linux only (pidfd: kernel 5.3; ``cgroup.kill``: 5.14).
"""

from __future__ import annotations

import contextlib
import functools
import os
import select
import signal
import subprocess
import time
from pathlib import Path

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


@functools.cache
def cgroup_base() -> Path | None:
    """The cgroup v2 folder of this process, if it may create call cgroups with ``cgroup.kill``
    there; None otherwise (no cgroup v2, not permitted, or a kernel before 5.14)."""
    try:
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split() for line in f]
        mount = next(m[4] for m in mounts if m[m.index("-") + 1] == "cgroup2")
        with open("/proc/self/cgroup") as f:
            own = next(line[3:].strip() for line in f if line.startswith("0::"))
    except (OSError, StopIteration, ValueError):
        return None
    base = Path(mount + own.rstrip("/"))
    probe = base / f"acdc-probe-{os.getpid()}"
    try:
        probe.mkdir()
    except OSError:
        return None
    ok = (probe / "cgroup.kill").exists()
    probe.rmdir()
    return base if ok else None


class CallGroup:
    """A cgroup v2 for one call, under :func:`cgroup_base`.

    Args:
        name: folder name, unique per call.
        memory_bytes / max_processes: written to ``memory.max`` / ``pids.max`` where those
            controllers are delegated here.

    Raises:
        OSError: when the cgroup cannot be created.
    """

    def __init__(self, base: Path, name: str, memory_bytes: int, max_processes: int):
        self.path = base / name
        self.path.mkdir()
        controllers = (self.path / "cgroup.controllers").read_text().split()
        self.memory_controller = "memory" in controllers
        if self.memory_controller:
            self._write("memory.max", memory_bytes)
            with contextlib.suppress(OSError):
                self._write("memory.swap.max", 0)
        if "pids" in controllers:
            self._write("pids.max", max_processes)

    def _write(self, name: str, value: object) -> None:
        (self.path / name).write_text(f"{value}\n")

    def add(self, pid: int) -> None:
        """Move process ``pid`` into the cgroup (its later children are born there)."""
        self._write("cgroup.procs", pid)

    def freeze(self, frozen: bool) -> None:
        """Stop (True) or resume (False) every process of the call."""
        self._write("cgroup.freeze", int(frozen))

    def cpu_s(self) -> float:
        """CPU seconds (user + system) of every process that ran in the cgroup."""
        for line in (self.path / "cpu.stat").read_text().splitlines():
            key, value = line.split()
            if key == "usage_usec":
                return int(value) / 1e6
        return 0.0

    def memory_bytes(self) -> int:
        """Memory of the call now: ``memory.current``, or without the memory controller the sum of
        its processes' resident sets (shared pages counted in each, so never less than the truth)."""
        if self.memory_controller:
            return int((self.path / "memory.current").read_text())
        total = 0
        for pid in (self.path / "cgroup.procs").read_text().split():
            with contextlib.suppress(OSError):
                total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_BYTES
        return total

    def kill(self, wait_s: float = 2.0) -> None:
        """SIGKILL every process in the cgroup, wait up to ``wait_s`` for it to empty, remove it."""
        with contextlib.suppress(OSError):
            self.freeze(False)
        self._write("cgroup.kill", 1)
        until = time.monotonic() + wait_s
        while "populated 1" in (self.path / "cgroup.events").read_text() and time.monotonic() < until:
            time.sleep(0.005)
        with contextlib.suppress(OSError):
            self.path.rmdir()


def children(pid: int) -> list[int]:
    """Host PIDs of the children of ``pid`` ([] once it is gone)."""
    with contextlib.suppress(FileNotFoundError):  # kernels without CONFIG_PROC_CHILDREN lack it
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(b")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


class CallHandle:
    """Kills one call's runner by pidfd and reaps the ``unshare`` before it (the call's cgroup, if
    any, is killed by its owner).

    Args:
        proc: the started process: ``unshare`` (isolated; the runner is its only child) or the
            runner itself (weak mode).
        isolated: whether ``proc`` is ``unshare``.
        group: the call's cgroup, or None.
        until: monotonic time by which the runner must have been started.

    Raises:
        OSError: when the runner did not start by ``until`` (``proc`` exited or never forked).
    """

    def __init__(self, proc: subprocess.Popen, isolated: bool, group: CallGroup | None, until: float):
        self.proc, self.group = proc, group
        runner = proc.pid
        while isolated:
            found = children(proc.pid)
            if found:
                runner = found[0]
                break
            if proc.poll() is not None or time.monotonic() > until:
                raise OSError(f"the sandbox process did not start (exit status {proc.returncode})")
            time.sleep(0.001)
        if group is not None:
            # the runner executes nothing of the task code before its request arrives, which is
            # sent after this: every process the task code starts is born in the cgroup
            group.add(runner)
        self.pidfd = os.pidfd_open(runner)

    def exited(self, timeout_s: float) -> bool:
        """Whether the runner has exited, waiting up to ``timeout_s``."""
        return bool(select.select([self.pidfd], [], [], max(0.0, timeout_s))[0])

    def kill(self) -> None:
        """Kill the runner (isolated: every process of the call with it) and reap the process
        this process started."""
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        self.exited(2.0)
        try:  # unshare reaps the runner and exits; killing it first would leave a zombie to init
            self.proc.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.pidfd)
