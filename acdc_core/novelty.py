"""The novelty filter's arithmetic (ALGORITHM.md step 7): nearest known tasks by cosine similarity.

Embeddings are float arrays of shape (n, d); they need not be normalised (rows are normalised
here).  A novel task is rejected when its most similar known task is above a threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length, shape kept; all-zero rows stay zero."""
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms == 0, 1.0, norms)


@dataclass(frozen=True)
class Neighbours:
    """The ``k`` nearest known tasks of one candidate: indices into the history, most similar
    first, with their cosine similarities."""

    indices: tuple[int, ...]
    similarities: tuple[float, ...]

    @property
    def max_similarity(self) -> float:
        return self.similarities[0] if self.similarities else -1.0


def nearest(candidates: np.ndarray, history: np.ndarray, k: int) -> list[Neighbours]:
    """For each row of ``candidates`` (m, d), its ``k`` most cosine-similar rows of ``history``
    (n, d); fewer when n < k, none when the history is empty."""
    if len(history) == 0:
        return [Neighbours((), ()) for _ in range(len(candidates))]
    sims = normalise(candidates) @ normalise(history).T
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return [Neighbours(tuple(int(j) for j in row), tuple(float(sims[i, j]) for j in row))
            for i, row in enumerate(order)]


def novel_mask(candidates: np.ndarray, history: np.ndarray, max_similarity: float, k: int = 3,
               check: list[bool] | None = None) -> tuple[list[bool], list[Neighbours]]:
    """Which candidates are novel, taken in order: each one is compared with ``history`` plus
    the candidates accepted before it, so two near-copies proposed together cannot both pass.

    Args:
        candidates: (m, d) embeddings; history: (n, d).
        check: per candidate, whether the filter applies (False: accepted regardless, e.g. a
            harder rewrite, yet it joins the pool the later ones are compared with).

    Returns:
        (novel flag per candidate, its neighbours; indices >= n point at earlier accepted
        candidates, in acceptance order).
    """
    cands = np.asarray(candidates, dtype=np.float64)
    pool = np.asarray(history, dtype=np.float64).reshape(-1, cands.shape[1])
    flags, found = [], []
    for i, row in enumerate(cands):
        nb = nearest(row[None, :], pool, k)[0]
        ok = nb.max_similarity <= max_similarity or (check is not None and not check[i])
        flags.append(ok)
        found.append(nb)
        if ok:
            pool = np.vstack([pool, row[None, :]])
    return flags, found
