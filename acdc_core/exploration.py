"""Does a child differ from its parents?  Per child, on the instances it and all its parents
answered: the share where its answer differs from every parent's, and the instances it solves
that no parent solves (what exploration is for) or loses.

An *answer row* is ``(model_id, task_id, instance_id, submission, score)`` as stored in the
``evaluations`` table; answers are compared after :func:`normalise_answer`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

AnswerRow = tuple[str, str, str, str | None, float]


def normalise_answer(submission: str | None) -> str:
    """Lower case, whitespace collapsed, surrounding quotes and a final full stop dropped."""
    text = re.sub(r"\s+", " ", (submission or "").strip().lower())
    return text.rstrip(".").strip("`'\" ").rstrip(".").strip()


@dataclass(frozen=True)
class ChildEffect:
    """What one child changed relative to its parents.

    Attributes:
        model_id: the child.
        parents: its parent ids (one for a mutant, two or more for a merge).
        n_compared: instances answered by the child and by every parent.
        differ_share: share of those where the child's answer differs from every parent's
            (0.0 when nothing was compared).
        new_solved: "task_id/instance_id" keys the child solves and no parent solves, sorted.
        lost_solved: keys some parent solves and the child does not, sorted.
    """

    model_id: str
    parents: tuple[str, ...]
    n_compared: int
    differ_share: float
    new_solved: tuple[str, ...]
    lost_solved: tuple[str, ...]


def child_effects(children: dict[str, tuple[str, ...]], rows: list[AnswerRow],
                  solved_threshold: float = 0.5) -> list[ChildEffect]:
    """One :class:`ChildEffect` per child of ``children`` (child id -> parent ids), in order.

    ``rows`` must hold the answers of the children and of all their parents; instances some of
    them did not answer are left out of that child's comparison.
    """
    answers: dict[str, dict[str, tuple[str, bool]]] = {}
    for m, t, i, sub, score in rows:
        answers.setdefault(m, {})[f"{t}/{i}"] = (normalise_answer(sub), score >= solved_threshold)
    out = []
    for child, parents in children.items():
        own = answers.get(child, {})
        keys = sorted(k for k in own if all(k in answers.get(p, {}) for p in parents))
        differ = [k for k in keys if all(own[k][0] != answers[p][k][0] for p in parents)]
        new = tuple(k for k in keys if own[k][1] and not any(answers[p][k][1] for p in parents))
        lost = tuple(k for k in keys if not own[k][1] and any(answers[p][k][1] for p in parents))
        out.append(ChildEffect(child, tuple(parents), len(keys), len(differ) / len(keys) if keys else 0.0, new, lost))
    return out
