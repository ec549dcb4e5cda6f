"""Loaded models kept resident between steps, so a model answers many task sets on one load.

A task adaptation asks every archive model to answer the new tasks of each reflection round; a
later generation asks them again.  Without the pool each ask is a load: about 0.7 s for a
page-cached 135M model on 2 CPU cores, far more for a 7B model or a cold disk
(``bench/bench_resident_models.py`` measures one adaptation both ways).  The pool keeps loaded
backends by key, least recently used first out, within a memory budget.  Content-addressed model ids make a key's weights immutable,
so a resident model answers exactly as a fresh load would.
"""

from __future__ import annotations

from collections import OrderedDict
from contextlib import contextmanager
from typing import Callable, Hashable, Iterator

from acdc_core.adapters.backends.base import ModelBackend


def backend_bytes(backend: ModelBackend) -> int:
    """Memory a loaded backend holds: its ``nbytes`` (parameters and buffers, bytes); a backend
    that does not say is never kept (as if it were larger than any budget)."""
    n = getattr(backend, "nbytes", None)
    return int(n) if n is not None else 1 << 62


class ModelPool:
    """Resident backends, least recently used first out.

    Args:
        budget_bytes: the most memory the resident backends hold together once a session ends;
            0 keeps none (every session loads and closes).  A model larger than the budget is
            closed after its session.  While a new model loads, the resident ones stay, so the
            peak is the budget plus one model.
    """

    def __init__(self, budget_bytes: int = 0):
        self.budget_bytes = budget_bytes
        self._resident: OrderedDict[Hashable, ModelBackend] = OrderedDict()
        self.loads = 0
        self.hits = 0

    @property
    def resident_bytes(self) -> int:
        return sum(backend_bytes(b) for b in self._resident.values())

    def __contains__(self, key: Hashable) -> bool:
        return key in self._resident

    @contextmanager
    def session(self, key: Hashable, load: Callable[[], ModelBackend]) -> Iterator[ModelBackend]:
        """The backend for ``key``: the resident one, else ``load()``.  After the session it stays
        resident if the budget allows, evicting the least recently used; else it is closed.  A
        session that raises closes its backend (its state is not trusted)."""
        backend = self._resident.pop(key, None)
        if backend is None:
            backend = load()
            self.loads += 1
        else:
            self.hits += 1
        try:
            yield backend
        except BaseException:
            backend.close()
            raise
        self._keep(key, backend)

    def _keep(self, key: Hashable, backend: ModelBackend) -> None:
        size = backend_bytes(backend)
        if size > self.budget_bytes:
            backend.close()
            return
        while self._resident and self.resident_bytes + size > self.budget_bytes:
            _, old = self._resident.popitem(last=False)
            old.close()
        self._resident[key] = backend

    def clear(self) -> None:
        """Close every resident backend."""
        while self._resident:
            self._resident.popitem(last=False)[1].close()
