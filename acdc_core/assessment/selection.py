"""Choosing N-model sets from a pass/fail matrix over the global synthetic task pool.

``solved`` is always a boolean array of shape (n_models, n_items): whether model i solves
synthetic item j.  Returned sets are lists of row indices.
"""

from __future__ import annotations

from itertools import combinations
from math import comb

import numpy as np


def coverage_of(solved: np.ndarray, members: list[int]) -> float:
    """Share of items (columns) solved by at least one of ``members``; 0 for no items."""
    solved = np.asarray(solved, dtype=bool)
    if not solved.shape[1] or not members:
        return 0.0
    return float(solved[members].any(axis=0).mean())


def greedy_max_coverage(solved: np.ndarray, n: int) -> list[int]:
    """Greedy max-coverage: repeatedly add the model solving most still-unsolved items.

    Ties go to the model solving more items overall, then the lower index, so the result is
    deterministic.  Once nothing new can be covered the remaining picks follow the same rule
    (more items overall first).  Returns min(n, n_models) distinct indices in pick order.
    """
    solved = np.asarray(solved, dtype=bool)
    n_models = solved.shape[0]
    totals = solved.sum(axis=1)
    covered = np.zeros(solved.shape[1], dtype=bool)
    chosen: list[int] = []
    for _ in range(min(n, n_models)):
        gains = (solved & ~covered).sum(axis=1)
        order = sorted(
            (i for i in range(n_models) if i not in chosen),
            key=lambda i: (-gains[i], -totals[i], i),
        )
        chosen.append(order[0])
        covered |= solved[order[0]]
    return chosen


def seeded_max_coverage(solved: np.ndarray, seeds: list[int], n: int) -> list[int]:
    """The first ``n`` of ``seeds``, then greedy max-coverage (:func:`greedy_max_coverage`) of
    what they leave unsolved: a task force that covers at least what its seeds cover.  Returns
    min(n, n_models) distinct indices in pick order."""
    solved = np.asarray(solved, dtype=bool)
    first = list(dict.fromkeys(seeds))[:n]
    rest = [i for i in range(solved.shape[0]) if i not in first]
    unsolved = ~solved[first].any(axis=0) if first else np.ones(solved.shape[1], dtype=bool)
    return first + [rest[i] for i in greedy_max_coverage(solved[rest] & unsolved, n - len(first))]


def exact_max_coverage(solved: np.ndarray, n: int, max_combinations: int = 300_000) -> list[int] | None:
    """The N-set with the highest coverage, by trying every combination.

    Among optimal sets the lexicographically first is returned.  Returns None when there are
    more than ``max_combinations`` sets to try (use the greedy set then).
    """
    solved = np.asarray(solved, dtype=bool)
    n_models = solved.shape[0]
    n = min(n, n_models)
    if comb(n_models, n) > max_combinations:
        return None
    masks = [int("".join("1" if v else "0" for v in row) or "0", 2) for row in solved]
    best, best_set = -1, None
    for combo in combinations(range(n_models), n):
        acc = 0
        for i in combo:
            acc |= masks[i]
        count = acc.bit_count()
        if count > best:
            best, best_set = count, list(combo)
    return best_set


def top_by_fitness(fitness: np.ndarray, n: int) -> list[int]:
    """Indices of the ``n`` highest ``fitness`` values (ties: lower index first)."""
    fitness = np.asarray(fitness, dtype=float)
    return sorted(range(len(fitness)), key=lambda i: (-fitness[i], i))[:n]


def random_set(n_models: int, n: int, rng: np.random.Generator) -> list[int]:
    """``min(n, n_models)`` distinct indices drawn uniformly, sorted."""
    return sorted(rng.choice(n_models, size=min(n, n_models), replace=False).tolist())


def choose_sets(model_ids: list[str], solved: np.ndarray, fitness: np.ndarray, seed_ids: list[str],
                sizes: list[int], rng: np.random.Generator, max_combinations: int = 300_000) -> list[dict]:
    """The model sets an assessment compares, chosen on the global synthetic pool only.

    Args:
        model_ids: every model ever archived, the rows of ``solved`` and ``fitness``.
        solved: (n_models, n_tasks) bool, the global skill vectors.
        fitness: (n_models,) mean score over the whole task history.
        seed_ids: the generation-0 seed models (a subset of ``model_ids`` or not).
        sizes: the N of each task force; an N above ``len(model_ids)`` is skipped.

    Returns:
        [{"set_name", "kind", "n", "members", "synthetic_coverage"}]: per N, the greedy task
        force, the same anchored on the seeds (:func:`seeded_max_coverage`), the exact optimum (when brute force is small enough), top-N by fitness, N random
        and the best seed sampled N times; then the seed experts and the single best model.
    """
    idx = {m: i for i, m in enumerate(model_ids)}

    def entry(name: str, kind: str, rows: list[int]) -> dict:
        return {"set_name": name, "kind": kind, "n": len(rows), "members": [model_ids[i] for i in rows],
                "synthetic_coverage": coverage_of(solved, rows)}

    seeds_in = [idx[s] for s in seed_ids if s in idx]
    best_seed = max(seeds_in, key=lambda i: (fitness[i], -i)) if seeds_in else None
    sets = []
    for n in sorted(set(sizes)):
        if n > len(model_ids):
            continue
        sets.append(entry(f"task_force_greedy_{n}", "task_force_greedy", greedy_max_coverage(solved, n)))
        if seeds_in:
            sets.append(entry(f"task_force_seeded_{n}", "task_force_seeded", seeded_max_coverage(solved, seeds_in, n)))
        exact = exact_max_coverage(solved, n, max_combinations)
        if exact is not None:
            sets.append(entry(f"task_force_exact_{n}", "task_force_exact", exact))
        sets.append(entry(f"top_fitness_{n}", "top_fitness", top_by_fitness(fitness, n)))
        sets.append(entry(f"random_{n}", "random", random_set(len(model_ids), n, rng)))
        if best_seed is not None:
            sets.append({**entry(f"best_seed_sampled_{n}", "best_seed_sampled", [best_seed]),
                         "n": n, "members": [model_ids[best_seed]] * n, "synthetic_coverage": None})
    if seeds_in:
        sets.append(entry("seed_experts", "seed_experts", seeds_in))
    if model_ids:
        sets.append(entry("single_best", "single_best", top_by_fitness(fitness, 1)))
    return sets


def choice_probabilities(logliks: list[float], temperature: float = 1.0) -> np.ndarray:
    """The model's distribution over one item's choices: softmax(log-likelihood / temperature),
    shape (n_choices,)."""
    z = np.asarray(logliks, dtype=float) / temperature
    p = np.exp(z - z.max())
    return p / p.sum()


def sample_choices(logliks: list[list[float]], n: int, temperature: float, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` answers per multiple-choice item from :func:`choice_probabilities`: what
    sampling the model at that temperature would pick.  Returns (n, n_items) int choice indices."""
    out = np.zeros((n, len(logliks)), dtype=int)
    for j, lls in enumerate(logliks):
        p = choice_probabilities(lls, temperature)
        out[:, j] = rng.choice(len(p), size=n, p=p)
    return out


def sampled_members(sets: list[dict]) -> dict[str, int]:
    """{model_id: samples}: how many samples per item each "best seed sampled N times" set asks
    of its model (the largest N where several do)."""
    out: dict[str, int] = {}
    for s in sets:
        if s["kind"] == "best_seed_sampled":
            out[s["members"][0]] = max(out.get(s["members"][0], 0), s["n"])
    return out


def reference_set(model_id: str, name: str) -> dict:
    """The assessed set of one reference model: ``reference:<name>``, its one member."""
    return {"set_name": f"reference:{name}", "kind": "reference", "n": 1, "members": [model_id],
            "synthetic_coverage": None}
