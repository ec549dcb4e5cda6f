"""Model backends behind one batch protocol, registered by name and imported lazily.

``load_backend("hf", path, ...)`` imports only the transformers backend, so a CPU install never
imports a GPU engine; ``vllm`` runs its engine in another process and environment
(``engine_client``).  A new backend (a remote endpoint) adds one entry to ``_REGISTRY``.
"""

from __future__ import annotations

import importlib

from acdc_core.adapters.backends.base import Generation, ModelBackend

_REGISTRY = {
    "hf": "acdc_core.adapters.backends.hf:HFBackend",
    "vllm": "acdc_core.adapters.backends.engine_client:VLLMBackend",
}


def load_backend(name: str, model_path: str, **options) -> ModelBackend:
    """Instantiate backend ``name`` on the model folder ``model_path``.

    Raises:
        KeyError: for an unknown backend name.
    """
    try:
        target = _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown backend {name!r}; known: {sorted(_REGISTRY)}") from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)(model_path, **options)


__all__ = ["Generation", "ModelBackend", "load_backend"]
