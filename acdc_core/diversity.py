"""Diversity of a task archive from its embeddings: the Vendi score and HDBSCAN clusters.

Both take embeddings of shape (n, d).  The Vendi score (the ``vendi-score`` package) uses the
cosine-similarity kernel: it is the effective number of distinct tasks, between 1 (all the same)
and n (all orthogonal).  Clusters come from the ``hdbscan`` package on unit-normalised rows
(Euclidean distance on the unit sphere is monotone in cosine distance).
"""

from __future__ import annotations

import numpy as np

from acdc_core.novelty import normalise


def vendi(embeddings: np.ndarray) -> float:
    """Vendi score (order q=1) of ``embeddings`` under the cosine kernel; 0.0 for no rows."""
    from vendi_score import vendi as _vendi

    x = normalise(embeddings)
    if len(x) == 0:
        return 0.0
    return float(_vendi.score_dual(x, q=1, normalize=False))


def clusters(embeddings: np.ndarray, min_cluster_size: int = 3) -> tuple[int, np.ndarray]:
    """HDBSCAN clustering: (number of clusters, label per row with -1 for noise).  Fewer rows
    than ``min_cluster_size`` give no cluster."""
    import hdbscan

    x = normalise(embeddings)
    if len(x) < max(2, min_cluster_size):
        return 0, np.full(len(x), -1)
    labels = hdbscan.HDBSCAN(min_cluster_size=min_cluster_size, metric="euclidean").fit_predict(x)
    return int(labels.max() + 1), labels
