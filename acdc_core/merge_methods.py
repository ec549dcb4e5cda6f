"""The merge methods a run may draw, keyed by mergekit's name for them.

One entry says what a method needs from a recipe; config validation, recipe drawing and the
mergekit configuration all read it, so a method is added here once (mergekit keeps its own
registry of the implementations, ``mergekit.merge_methods``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class MergeMethodSpec:
    """What a mergekit method takes.

    ``needs_base``: a task-vector method, computed against the shared base model;
    ``uses_density``: each model's ``density`` (share of its task vector kept) is passed;
    ``pairwise``: interpolates exactly two parents by ``t`` (the first is mergekit's base)
    instead of taking a weight per parent.
    """

    name: str
    needs_base: bool = False
    uses_density: bool = False
    pairwise: bool = False


MERGE_METHODS: dict[str, MergeMethodSpec] = {
    s.name: s
    for s in (
        MergeMethodSpec("linear"),
        MergeMethodSpec("slerp", pairwise=True),
        MergeMethodSpec("task_arithmetic", needs_base=True),
        MergeMethodSpec("ties", needs_base=True, uses_density=True),
        MergeMethodSpec("dare_ties", needs_base=True, uses_density=True),
    )
}

MergeMethod = Literal[tuple(MERGE_METHODS)]  # the registry's names, for pydantic fields
