"""What the core knows of the sandbox that runs task code: its limits, its error, and the two
calls task validation makes (the adapter :mod:`acdc_core.adapters.sandbox` implements them).

The limits' defaults are defined here once; the config's ``sandbox`` section takes its defaults
from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class SandboxError(RuntimeError):
    """The task-family code could not run at all (syntax error, no TaskFamily, timeout, crash,
    output over its caps, or a reply that fails validation)."""


@dataclass(frozen=True)
class SandboxLimits:
    """Limits of one sandbox call.

    Attributes:
        timeout_s: wall-clock (and CPU) seconds for the task code.
        memory_mb: address space of the runner, MiB.
        max_processes: RLIMIT_NPROC of the runner's user.
        disk_mb / max_files: size and inode count of the call's scratch tmpfs (isolated mode);
            every file is also capped at 16 MiB.
        judge_calls_per_item / judge_s_per_item: judge calls and judge seconds per scored item;
            the judge seconds are added to the call's deadline up front.
        output_bytes: most bytes read from the runner's stdout (also the longest line).
        stderr_bytes: most bytes read from its stderr (the task code's prints); its last lines
            are kept for error messages.
    """

    timeout_s: float = 10.0
    memory_mb: int = 1024
    max_processes: int = 8
    disk_mb: int = 64
    max_files: int = 256
    judge_calls_per_item: int = 2
    judge_s_per_item: float = 30.0
    output_bytes: int = 8 * 1024 * 1024
    stderr_bytes: int = 1024 * 1024


class TaskCodeRunner(Protocol):
    """Runs a task family's code out of process (see :class:`acdc_core.adapters.sandbox.Sandbox`)."""

    def instances(self, code: str, max_instances: int, draw: int = 0) -> dict[str, dict]:
        """Up to ``max_instances`` instances of the family by id; raises SandboxError."""
        ...

    def score(self, code: str, items: list[dict]) -> tuple[dict[str, float], dict[str, str]]:
        """Scores in [0, 1] by instance id and error strings; raises SandboxError."""
        ...
