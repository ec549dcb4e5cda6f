"""Dominated Novelty Search (DNS): the model-archive update, as ``ALGORITHM.md`` step 6 states,
and its ablation, top-fitness selection.

Pure function of arrays: it never evaluates anything.  Given the population (archive plus the
generation's surviving children), their per-task scores and ids, it returns which models stay
and, for each, why (pyribs' ``add_info`` idea).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DNSResult:
    """Outcome of one archive update.

    Attributes:
        order: model ids sorted by fitness (highest first, ties by id).
        fitness: id -> mean score over tasks, in [0, 1].
        competition: id -> competition score (``inf`` for the fittest).
        kept: ids kept, best competition score first (length ``min(capacity, n)``).
    """

    order: list[str]
    fitness: dict[str, float]
    competition: dict[str, float]
    kept: list[str]


def dominated_novelty_search(
    model_ids: list[str],
    scores: np.ndarray,
    capacity: int,
    k: int = 3,
    solved_threshold: float = 0.5,
) -> DNSResult:
    """Select up to ``capacity`` models that are fit *and* distinct in skill space.

    Args:
        model_ids: n distinct ids, one per row of ``scores``.
        scores: float array (n, t) of per-task scores in [0, 1]; ``>= solved_threshold`` is solved.
        capacity: archive size N (>= 1).
        k: number of nearest fitter neighbours averaged into the competition score.
        solved_threshold: score at which a task counts as solved.

    Returns:
        DNSResult. Fitness is the mean score. Task weight d_t is the share of the population failing
        t. Distinctiveness of m against a fitter f is sum_t d_t [m solves t, f fails t] / sum_t d_t
        (0 when every model solves every task). The competition score is the mean of the k smallest
        distinctiveness values over the fitter set (all of them when fewer than k); the fittest
        model scores +inf. Ties in competition are broken by fitness order, so the fittest is
        always kept.

    Raises:
        ValueError: on duplicate ids, a shape mismatch, capacity < 1 or k < 1.
    """
    scores = np.asarray(scores, dtype=float)
    n = len(model_ids)
    if len(set(model_ids)) != n:
        raise ValueError("model_ids must be distinct")
    if scores.ndim != 2 or scores.shape[0] != n:
        raise ValueError(f"scores must have shape ({n}, n_tasks), got {scores.shape}")
    if capacity < 1 or k < 1:
        raise ValueError("capacity and k must be >= 1")
    if n == 0:
        return DNSResult([], {}, {}, [])

    n_tasks = scores.shape[1]
    fitness = scores.mean(axis=1) if n_tasks else np.zeros(n)
    order_idx = sorted(range(n), key=lambda i: (-fitness[i], model_ids[i]))
    solved = scores[order_idx] >= solved_threshold  # rows in fitness order
    difficulty = 1.0 - solved.mean(axis=0) if n_tasks else np.zeros(0)
    total = difficulty.sum()

    competition = np.empty(n)
    competition[0] = np.inf
    for pos in range(1, n):
        m_only = solved[pos][None, :] & ~solved[:pos]  # (pos, t): m solves, fitter fails
        dist = (m_only * difficulty).sum(axis=1) / total if total > 0 else np.zeros(pos)
        competition[pos] = np.sort(dist)[:k].mean()

    keep_pos = sorted(range(n), key=lambda p: (-competition[p], p))[:capacity]
    ordered_ids = [model_ids[i] for i in order_idx]
    return DNSResult(
        order=ordered_ids,
        fitness={model_ids[i]: float(fitness[i]) for i in range(n)},
        competition={ordered_ids[p]: float(competition[p]) for p in range(n)},
        kept=[ordered_ids[p] for p in keep_pos],
    )


def top_fitness_selection(model_ids: list[str], scores: np.ndarray, capacity: int) -> DNSResult:
    """The ablation of DNS (the reference's ``use_top_fitness_selection``): keep the ``capacity``
    fittest models, whatever their skill vectors.

    Args:
        model_ids: n distinct ids, one per row of ``scores``.
        scores: float array (n, t) of per-task scores in [0, 1].
        capacity: archive size N (>= 1).

    Returns:
        DNSResult with the same order and fitness as :func:`dominated_novelty_search`; the
        competition score is the fitness itself, so ``kept`` is the first ``capacity`` of
        ``order`` (ties by id).

    Raises:
        ValueError: on duplicate ids, a shape mismatch or capacity < 1.
    """
    res = dominated_novelty_search(model_ids, scores, capacity, k=1)
    return DNSResult(order=res.order, fitness=res.fitness, competition=dict(res.fitness),
                     kept=res.order[:capacity])


def candidate_status(previous: list[str], candidates: list[str], gibberish: list[str], kept: list[str]) -> dict[str, str]:
    """What one generation's archive update did to each model (pyribs' ``add_info`` status).

    Args:
        previous: the archive before the update.
        candidates: the generation's new models, screened or not (seeds in generation 0).
        gibberish: the candidates the gibberish screen discarded (never competed).
        kept: the archive after the update.

    Returns:
        id -> ``admitted`` (new, kept), ``rejected`` (new, competed, not kept), ``gibberish``,
        ``retained`` (was in the archive, kept) or ``evicted`` (was in it, dropped).

    Raises:
        ValueError: when a kept model is neither a previous member nor a screened candidate.
    """
    kept_set, junk = set(kept), set(gibberish)
    if stray := kept_set - set(previous) - (set(candidates) - junk):
        raise ValueError(f"kept models that did not compete: {sorted(stray)}")
    status = {m: ("retained" if m in kept_set else "evicted") for m in previous}
    for m in candidates:
        status[m] = "gibberish" if m in junk else "admitted" if m in kept_set else "rejected"
    return status
