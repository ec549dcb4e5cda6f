"""Stable content hashes: the ids that key models, task families, task sets and cache entries."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def stable_hash(obj: Any, length: int = 16) -> str:
    """Hex sha256 of ``obj``'s canonical JSON (sorted keys); ``length`` hex chars are kept."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


def text_hash(text: str, length: int = 16) -> str:
    """Hex sha256 of a UTF-8 string."""
    return hashlib.sha256(text.encode()).hexdigest()[:length]
