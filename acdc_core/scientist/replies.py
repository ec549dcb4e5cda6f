"""Reading a scientist's reply: the task-family source is its last ```python fenced block."""

from __future__ import annotations

import re

from acdc_core.taskfamily import TaskFamilyError

_FENCE = re.compile(r"```[ \t]*(?:python|py)?[ \t]*\n(.*?)(?:```|\Z)", re.DOTALL | re.IGNORECASE)


def extract_code(reply: str) -> str:
    """The code of ``reply``: its last fenced block that defines ``TaskFamily`` (else its last
    fenced block; an unclosed final fence counts, as a reply cut by max_tokens has one), or
    the whole reply when it has no fence.

    Raises:
        TaskFamilyError: on an empty reply.
    """
    if not reply or not reply.strip():
        raise TaskFamilyError("the scientist's reply is empty")
    blocks = [b.strip("\n") for b in _FENCE.findall(reply)]
    if not blocks:
        return reply.strip("\n")
    with_family = [b for b in blocks if "class TaskFamily" in b]
    return (with_family or blocks)[-1]


def fenced(code: str) -> str:
    """``code`` as a reply: one ```python block."""
    return f"```python\n{code.strip()}\n```"
