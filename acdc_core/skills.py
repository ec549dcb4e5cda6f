"""Skill vectors: per-instance scores folded into one score per task family per model."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np


def skill_matrix(
    rows: Iterable[tuple[str, str, float]], model_ids: list[str], task_ids: list[str]
) -> np.ndarray:
    """Mean score per (model, task family) from instance-level rows.

    Args:
        rows: (model_id, task_id, score) per evaluated instance; scores in [0, 1].
        model_ids: row order of the result.
        task_ids: column order of the result.

    Returns:
        float array (len(model_ids), len(task_ids)); a pair with no row scores 0.
    """
    sums: dict[tuple[str, str], list[float]] = defaultdict(list)
    for m, t, s in rows:
        sums[(m, t)].append(float(s))
    out = np.zeros((len(model_ids), len(task_ids)))
    for i, m in enumerate(model_ids):
        for j, t in enumerate(task_ids):
            vals = sums.get((m, t))
            if vals:
                out[i, j] = sum(vals) / len(vals)
    return out


def skill_vector(scores: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Pass/fail vector(s): ``scores >= threshold`` as int8 (0/1), same shape as ``scores``."""
    return (np.asarray(scores) >= threshold).astype(np.int8)


def task_coverage(scores: np.ndarray, threshold: float = 0.5) -> float:
    """Share of tasks (columns) solved by at least one model (row); 0 for no tasks."""
    solved = np.asarray(scores) >= threshold
    return float(solved.any(axis=0).mean()) if solved.shape[1] else 0.0
