"""The user-level cache shared by runs: the shipped seed models, converted once per machine."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from acdc_core.adapters.seeds import convert_gguf, shipped_gguf
from storage.blobs import BlobStore


def cache_dir() -> Path:
    """User-level cache shared by runs (converted shipped seed models): $ACDC_CACHE_DIR or
    ~/.cache/acdc."""
    return Path(os.environ.get("ACDC_CACHE_DIR", Path.home() / ".cache" / "acdc"))


def shipped_seed_folder(family: str, dtype: str, logger: logging.Logger) -> str:
    """The converted shipped model, cached per user so later runs skip the conversion."""
    gguf = shipped_gguf(family, cache_dir() / "gguf")
    cache = BlobStore(str(cache_dir()), cache_dir())
    key = f"seeds/{family}-{dtype}"
    if not cache.exists(key):
        logger.info("converting %s (%s) to safetensors, once per machine", family, gguf.name)
        tmp = cache_dir() / f"seeds/{family}-{dtype}.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        convert_gguf(gguf, tmp, dtype)
        cache.put_dir(tmp, key, move=True)
    return str(cache.local_dir(key))
