"""Coverage and its uncertainty over benchmark items.

``correct`` is a boolean array of shape (n_answers, n_items): whether answer source i (a model,
or one sample of a model) got item j right.  Bootstraps resample items with replacement.
"""

from __future__ import annotations

import numpy as np


def solved_by_any(correct: np.ndarray) -> np.ndarray:
    """(n_items,) bool: at least one answer source got the item right (the oracle)."""
    correct = np.asarray(correct, dtype=bool)
    return correct.any(axis=0) if correct.shape[0] else np.zeros(correct.shape[1], dtype=bool)


def unique_contributions(correct: np.ndarray) -> np.ndarray:
    """(n_answers,) share of items that only this answer source got right."""
    correct = np.asarray(correct, dtype=bool)
    only = correct & (correct.sum(axis=0) == 1)
    return only.mean(axis=1) if correct.shape[1] else np.zeros(correct.shape[0])


def bootstrap_indices(n_items: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, n_items) item indices drawn with replacement: share one draw between the sets
    compared so their differences are paired."""
    return rng.integers(0, n_items, size=(n_boot, n_items))


def mean_ci(values: np.ndarray, idx: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean of per-item ``values`` (n_items,) and its percentile bootstrap interval over the
    resamples ``idx`` (n_boot, n_items).  Returns (mean, low, high)."""
    values = np.asarray(values, dtype=float)
    if not len(values):
        return 0.0, 0.0, 0.0
    means = values[idx].mean(axis=1)
    tail = (1 - level) / 2
    return float(values.mean()), float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


def p_greater(a: np.ndarray, b: np.ndarray, idx: np.ndarray) -> float:
    """One-sided paired bootstrap p-value for "mean(a) > mean(b)" over the same items.

    The share of resamples in which a does not beat b, with the +1 correction so it is never 0:
    (1 + #{mean(a - b) <= 0}) / (1 + n_boot).
    """
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    boot = diff[idx].mean(axis=1)
    return float((1 + (boot <= 0).sum()) / (1 + len(boot)))


def _stratified_boot_means(vectors: list[np.ndarray], n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot,) means over benchmarks of each benchmark's mean of per-item ``vectors``, items
    resampled within each benchmark."""
    total = np.zeros(n_boot)
    for v in vectors:
        v = np.asarray(v, dtype=float)
        total += v[bootstrap_indices(len(v), n_boot, rng)].mean(axis=1)
    return total / len(vectors)


def p_greater_pooled(pairs: list[tuple[np.ndarray, np.ndarray]], n_boot: int, rng: np.random.Generator) -> float:
    """One-sided p-value for "a beats b on average over benchmarks": a stratified bootstrap
    (items resampled within each benchmark) of the mean over benchmarks of mean(a - b).

    Args:
        pairs: one (a, b) pair of per-item values (n_items_k,) per benchmark.
    """
    if not pairs:
        return 1.0
    boot = _stratified_boot_means([np.asarray(a, dtype=float) - np.asarray(b, dtype=float) for a, b in pairs],
                                  n_boot, rng)
    return float((1 + (boot <= 0).sum()) / (1 + n_boot))


def pooled_mean_ci(vectors: list[np.ndarray], n_boot: int, rng: np.random.Generator,
                   level: float = 0.95) -> tuple[float, float, float]:
    """Mean over benchmarks of each benchmark's mean of per-item ``vectors`` (one (n_items_k,)
    array per benchmark), and its percentile interval from a stratified bootstrap (items
    resampled within each benchmark).  Returns (mean, low, high)."""
    if not vectors:
        return 0.0, 0.0, 0.0
    boot = _stratified_boot_means(vectors, n_boot, rng)
    tail = (1 - level) / 2
    mean = float(np.mean([np.mean(v) for v in vectors]))
    return mean, float(np.quantile(boot, tail)), float(np.quantile(boot, 1 - tail))


def holm(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order: the k-th smallest of m p-values
    is multiplied by (m - k + 1), made monotone (never below an earlier one) and capped at 1.
    Rejecting where the adjusted value is <= alpha controls the family-wise error rate at alpha."""
    m = len(p_values)
    out = [0.0] * m
    running = 0.0
    for rank, i in enumerate(sorted(range(m), key=lambda j: p_values[j])):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        out[i] = running
    return out
