"""Does the run's gain hold outside its pool?  The model sets a transfer check compares (pure).

:func:`transfer_sets` takes solved matrices over the pool (every model ever archived and the
seeds) and returns each set's coverage of the held-out instances (:mod:`acdc_core.transfer`) and
of the task history.  ``acdc transfer`` (``flows/transfer.py``) feeds it and writes the rows.
"""

from __future__ import annotations

import numpy as np

from acdc_core.assessment.selection import greedy_max_coverage, seeded_max_coverage, top_by_fitness


def best_seed(select: np.ndarray, seeds: list[int]) -> int | None:
    """The row among ``seeds`` of highest mean ``select`` score (the lowest row on ties), or None
    without seeds: the seed ``acdc transfer`` samples and ``transfer_sets`` reports."""
    fitness = select.mean(axis=1) if select.size else np.zeros(len(select))
    return max(seeds, key=lambda i: (fitness[i], -i)) if seeds else None


def _covered(solved: np.ndarray, rows: list[int]) -> float:
    return float(solved[rows].any(axis=0).mean()) if rows and solved.shape[1] else 0.0


def transfer_sets(pool: list[str], seed_ids: list[str], ever_archived: list[str], final_archive: list[str],
                  select: np.ndarray,
                  history: np.ndarray, heldout: np.ndarray, sampled: np.ndarray, sizes: list[int]) -> list[dict]:
    """The model sets a transfer check compares, with their held-out and history coverage.

    Sets are chosen on the run's task history (``select``), never on held-out instances, except
    ``task_force_heldout_N``, which is cross-fitted: chosen on one half of the held-out
    instances and measured on the other, both ways (its held-out value is the pooled share).

    Args:
        pool: every model ever archived and the seeds: the rows of the matrices.
        seed_ids: the seeds; ``ever_archived``: every model ever in the archive;
            ``final_archive``: the archive after the last generation.
        select: (n_pool, n_columns) bool, solved on the history at the run's skill granularity:
            what task forces are chosen on.
        history: (n_pool, n_history_instances) bool, solved per history instance (greedy).
        heldout: (n_pool, n_heldout) bool, solved per held-out instance (greedy).
        sampled: (n_samples, n_heldout) bool, the best seed's sampled answers, one row per sample;
            the best seed is the seed of highest mean ``select`` score.
        sizes: task-force sizes N.

    Returns:
        [{"set_name", "n", "members", "coverage_heldout", "coverage_history"}] (history coverage
        None for sampled sets): per N, ``task_force_N`` (greedy on the history, as the paper
        chooses), ``task_force_seeded_N`` (the seeds first, then greedy: it never covers less
        than the seeds), ``task_force_heldout_N``, ``top_fitness_N`` and ``best_seed_sampled_N``
        (the union of the first N samples); then ``seeds``, ``best_seed``, ``archive_final`` and
        ``ever_archived``.
    """
    idx = {m: i for i, m in enumerate(pool)}
    seeds = [idx[s] for s in seed_ids if s in idx]
    fitness = select.mean(axis=1) if select.size else np.zeros(len(pool))
    best = best_seed(select, seeds)
    folds = [np.arange(heldout.shape[1]) % 2 == k for k in (0, 1)]

    def entry(name: str, rows: list[int]) -> dict:
        return {"set_name": name, "n": len(rows), "members": [pool[i] for i in rows],
                "coverage_heldout": _covered(heldout, rows), "coverage_history": _covered(history, rows)}

    sets = []
    for n in sorted(set(sizes)):
        if n > len(pool):
            continue
        sets.append(entry(f"task_force_{n}", greedy_max_coverage(select, n)))
        sets.append(entry(f"task_force_seeded_{n}", seeded_max_coverage(select, seeds, n)))
        solved_out = 0
        for k in (0, 1):  # choose on one fold, count what it solves on the other
            rows = greedy_max_coverage(heldout[:, folds[k]], n)
            solved_out += int(heldout[np.ix_(rows, np.flatnonzero(folds[1 - k]))].any(axis=0).sum())
        chosen_all = greedy_max_coverage(heldout, n)
        sets.append({**entry(f"task_force_heldout_{n}", chosen_all),
                     "coverage_heldout": solved_out / heldout.shape[1] if heldout.shape[1] else 0.0})
        sets.append(entry(f"top_fitness_{n}", top_by_fitness(fitness, n)))
        if best is not None and len(sampled) >= n:
            sets.append({"set_name": f"best_seed_sampled_{n}", "n": n, "members": [pool[best]] * n,
                         "coverage_heldout": float(sampled[:n].any(axis=0).mean()) if sampled.shape[1] else 0.0,
                         "coverage_history": None})
    if seeds:
        sets.append(entry("seeds", seeds))
        sets.append(entry("best_seed", [best]))
    sets.append(entry("archive_final", [idx[m] for m in final_archive if m in idx]))
    sets.append(entry("ever_archived", [idx[m] for m in ever_archived if m in idx]))
    return sets
