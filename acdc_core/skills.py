"""Skill vectors: per-instance scores laid out as one column per task instance (the
reference's granularity: one entry per scored prompt) or per task family (the mean over its
instances, a coarser view kept for reports).

A *score row* is ``(model_id, task_id, instance_id, score)`` with the score in [0, 1], one per
evaluated instance, as stored in the ``evaluations`` table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Literal

import numpy as np

Granularity = Literal["instance", "family"]
ScoreRow = tuple[str, str, str, float]


def column_key(task_id: str, instance_id: str, granularity: Granularity) -> str:
    """The skill-vector column of one instance: ``task_id`` (family) or ``task_id/instance_id``."""
    return task_id if granularity == "family" else f"{task_id}/{instance_id}"


def skill_matrix(
    rows: Iterable[tuple[str, str, float]], model_ids: list[str], columns: list[str]
) -> np.ndarray:
    """Mean score per (model, column) from (model_id, column, score) rows.

    Returns:
        float array (len(model_ids), len(columns)); a pair with no row scores 0.
    """
    sums: dict[tuple[str, str], list[float]] = defaultdict(list)
    for m, c, s in rows:
        sums[(m, c)].append(float(s))
    out = np.zeros((len(model_ids), len(columns)))
    for i, m in enumerate(model_ids):
        for j, c in enumerate(columns):
            vals = sums.get((m, c))
            if vals:
                out[i, j] = sum(vals) / len(vals)
    return out


def skill_table(
    rows: Iterable[ScoreRow], model_ids: list[str], task_ids: list[str], granularity: Granularity = "instance"
) -> tuple[np.ndarray, list[str]]:
    """Scores of ``model_ids`` on the tasks ``task_ids`` at ``granularity``.

    Instance columns are every (task, instance) of ``task_ids`` that appears in ``rows`` for any
    model, sorted; family columns are ``task_ids`` in order, each the mean over the family's
    instances.  A model without a row for a column scores 0 there.

    Returns:
        (float array (len(model_ids), n_columns), column keys as :func:`column_key` makes them).
    """
    wanted = set(task_ids)
    keyed = [(m, column_key(t, i, granularity), s) for m, t, i, s in rows if t in wanted]
    if granularity == "family":
        columns = list(task_ids)
    else:
        columns = sorted({c for _, c, _ in keyed})
    return skill_matrix(keyed, model_ids, columns), columns


def skill_vector(scores: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Pass/fail vector(s): ``scores >= threshold`` as int8 (0/1), same shape as ``scores``."""
    return (np.asarray(scores) >= threshold).astype(np.int8)


def task_coverage(scores: np.ndarray, threshold: float = 0.5) -> float:
    """Share of columns solved by at least one model (row); 0 for no columns."""
    solved = np.asarray(scores) >= threshold
    return float(solved.any(axis=0).mean()) if solved.shape[1] else 0.0


def distinct_vectors(scores: np.ndarray, threshold: float = 0.5) -> int:
    """Number of distinct pass/fail rows of ``scores`` (models with identical skill vectors
    count once)."""
    return len({tuple(r) for r in skill_vector(scores, threshold)})
