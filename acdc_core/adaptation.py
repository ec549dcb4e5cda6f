"""Task adaptation, the pure part (ALGORITHM.md step 7): which tasks go, which parents are
rewritten how, which tasks the pool cap prunes, and which tasks discriminate between models.

``scores`` everywhere are (model_id, task_id, score) rows, one per instance, as stored in the
``evaluations`` table; a model *solves* a task when its mean score over the task's instances is
at least ``solved_threshold``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from acdc_core.scientist.base import TaskRequest


def solved_matrix(scores: list[tuple[str, str, float]], model_ids: list[str], task_ids: list[str],
                  solved_threshold: float = 0.5) -> np.ndarray:
    """Boolean (len(model_ids), len(task_ids)): model i solves task j.  A (model, task) pair
    with no rows counts as unsolved."""
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0])
    for m, t, s in scores:
        acc = sums[(m, t)]
        acc[0] += s
        acc[1] += 1
    out = np.zeros((len(model_ids), len(task_ids)), dtype=bool)
    for i, m in enumerate(model_ids):
        for j, t in enumerate(task_ids):
            total, n = sums.get((m, t), (0.0, 0))
            out[i, j] = n > 0 and total / n >= solved_threshold
    return out


def pass_rates(scores: list[tuple[str, str, float]], model_ids: list[str], task_ids: list[str],
               solved_threshold: float = 0.5) -> dict[str, float]:
    """Per task: the fraction of ``model_ids`` that solve it (0.0 with no models)."""
    solved = solved_matrix(scores, model_ids, task_ids, solved_threshold)
    rates = solved.mean(axis=0) if len(model_ids) else np.zeros(len(task_ids))
    return {t: float(r) for t, r in zip(task_ids, rates)}


def discriminating_share(rates: dict[str, float]) -> float:
    """Share of tasks that some but not all models solve (0 < pass rate < 1); 0.0 for none."""
    return float(np.mean([0.0 < r < 1.0 for r in rates.values()])) if rates else 0.0


def choose_operation(pass_rate: float, rng: np.random.Generator, harder_above: float,
                     easier_below: float, novel_new_share: float) -> str:
    """The reference rule: easy (pass rate > ``harder_above``) -> harder; rarely solved
    (< ``easier_below``) -> easier; otherwise a novel variant, completely new with probability
    ``novel_new_share`` and related otherwise."""
    if pass_rate > harder_above:
        return "harder"
    if pass_rate < easier_below:
        return "easier"
    return "novel_new" if rng.random() < novel_new_share else "novel_related"


@dataclass(frozen=True)
class AdaptationPlan:
    """What one adaptation asks for: ``dropped`` task ids (nobody solves them) and one
    :class:`TaskRequest` per sampled parent."""

    dropped: list[str]
    requests: list[TaskRequest]


def plan_adaptation(active: list[dict], rates: dict[str, float], n_parents: int, rng: np.random.Generator,
                    generation: int, known_names: list[str], harder_above: float = 0.5,
                    easier_below: float = 0.0, novel_new_share: float = 0.2) -> AdaptationPlan:
    """Drop unsolved tasks, sample ``n_parents`` parents among the rest (without replacement
    while the pool lasts) and pick each one's operation.

    Args:
        active: active families [{"task_id", "name", "code", "description", "capability",
            "domain"}], in a stable order.
        rates: pass rate over the archive per task id (missing: 0).
    """
    rate = {t["task_id"]: rates.get(t["task_id"], 0.0) for t in active}
    dropped = [t["task_id"] for t in active if rate[t["task_id"]] == 0.0]
    pool = [t for t in active if rate[t["task_id"]] > 0.0]
    if not pool:
        return AdaptationPlan(dropped, [])
    picks = rng.choice(len(pool), size=n_parents, replace=n_parents > len(pool))
    requests = []
    for i, j in enumerate(picks):
        parent = {**pool[int(j)], "pass_rate": rate[pool[int(j)]["task_id"]]}
        op = choose_operation(parent["pass_rate"], rng, harder_above, easier_below, novel_new_share)
        requests.append(TaskRequest(
            request_id=f"g{generation}-r{i}", operation=op,  # type: ignore[arg-type]
            parent={k: parent[k] for k in ("task_id", "name", "code", "description", "capability", "domain", "pass_rate")},
            seed=int(rng.integers(2**31)), known_names=tuple(known_names),
        ))
    return AdaptationPlan(dropped, requests)


def prune_oldest(active: list[tuple[str, int]], cap: int) -> list[str]:
    """Task ids to retire so that at most ``cap`` stay: the oldest first.

    Args:
        active: (task_id, created_generation) of the active pool, in admission order within a
            generation (ties keep that order).
    """
    excess = len(active) - cap
    if excess <= 0:
        return []
    order = sorted(range(len(active)), key=lambda i: (active[i][1], i))
    return [active[i][0] for i in order[:excess]]
