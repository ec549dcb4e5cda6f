"""Stable content hashes: the ids that key models, task families, task sets and cache entries."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def _jsonable(obj: Any) -> Any:
    """A pydantic model as its JSON-mode dump; anything else as its ``str``."""
    dump = getattr(obj, "model_dump", None)
    return dump(mode="json") if callable(dump) else str(obj)


def stable_hash(obj: Any, length: int = 16) -> str:
    """Hex sha256 of ``obj``'s canonical JSON (sorted keys; pydantic models by their fields);
    ``length`` hex chars are kept."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_jsonable).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


def text_hash(text: str, length: int = 16) -> str:
    """Hex sha256 of a UTF-8 string."""
    return hashlib.sha256(text.encode()).hexdigest()[:length]
