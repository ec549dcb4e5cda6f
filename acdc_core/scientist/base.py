"""What every scientist backend does: write, reflect on and judge the novelty of task families.

A scientist receives :class:`TaskRequest` s (one per task to write) and returns *reply texts*:
the task-family source inside a ```python fenced block, possibly with prose around it.  LLM
scientists and the offline template scientist answer in the same format, so everything
downstream (:func:`acdc_core.scientist.replies.extract_code`, validation, the sandbox) is one path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

Operation = Literal["harder", "easier", "novel_related", "novel_new"]
OPERATIONS: tuple[str, ...] = ("harder", "easier", "novel_related", "novel_new")


@dataclass(frozen=True)
class TaskRequest:
    """One task the scientist is asked to write.

    Attributes:
        request_id: stable id of the request (used for caching and as the sampling seed).
        operation: how the new task relates to ``parent``.
        parent: the parent family ({"task_id", "name", "code", "description", "capability",
            "domain", "pass_rate"}); for ``novel_new`` it is only context.
        seed: integer seed for any randomness of the scientist.
        known_names: names of every task family of the run's history (the new one must differ).
    """

    request_id: str
    operation: Operation
    parent: dict
    seed: int
    known_names: tuple[str, ...] = field(default=())


class Scientist(Protocol):
    """A task writer.  Every method takes a batch and returns one result per item, in order."""

    def write(self, requests: list[TaskRequest]) -> list[str]:
        """Reply texts, each holding one task family's source in a ```python block."""
        ...

    def reflect(self, requests: list[TaskRequest], attempts: list[str], errors: list[str]) -> list[str]:
        """Rewritten reply texts, given the previous attempt's code and what went wrong with it
        (syntax error, sandbox failure, score() crash, "no archive model solves any instance")."""
        ...

    def is_interesting(self, candidates: list[str], neighbours: list[list[str]]) -> list[bool | None]:
        """Whether each candidate's code is interestingly new next to its nearest known tasks'
        code; None where the scientist has no opinion (the embedding filter alone decides)."""
        ...
