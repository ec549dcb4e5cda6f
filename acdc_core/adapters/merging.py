"""mergekit adapter: perform a :class:`MergeRecipe` in-process with ``run_merge``."""

from __future__ import annotations

import threading
from pathlib import Path

import yaml
from mergekit.config import MergeConfiguration
from mergekit.io.tasks import LoaderCache
from mergekit.merge import MergeOptions, run_merge

from acdc_core.recipes import MergeRecipe, mergekit_config

# mergekit keeps one process-wide loader cache (a class attribute); merges must not interleave.
_MERGE_LOCK = threading.Lock()


def merge_models(recipe: MergeRecipe, paths: dict[str, str], out_dir: str | Path, dtype: str) -> str:
    """Merge into ``out_dir`` (a full HF folder, tokenizer copied from the base or first parent).

    Args:
        recipe: what to merge.
        paths: model id -> local folder for the parents (and base).
        out_dir: destination folder; created.
        dtype: output dtype name.

    Returns:
        The mergekit configuration as YAML, portable: models are named by their ids, not by
        this machine's folders (stored next to the weights as ``mergekit_config.yml`` and in
        ``models.merge_config_yaml``; :func:`parse_merge_yaml` with ``paths`` makes it runnable).

    Raises:
        pydantic.ValidationError: when mergekit rejects the configuration.
    """
    text = MergeConfiguration.model_validate(mergekit_config(recipe, {m: m for m in paths}, dtype)).to_yaml()
    cfg = parse_merge_yaml(text, paths)  # what runs is the stored recipe, pointed at local folders
    out_dir = Path(out_dir)
    with _MERGE_LOCK:
        try:
            run_merge(
                cfg,
                str(out_dir),
                MergeOptions(
                    copy_tokenizer=True,
                    random_seed=recipe.seed,
                    quiet=True,
                    write_model_card=False,
                    lazy_unpickle=False,
                    safe_serialization=True,
                ),
            )
        finally:
            cache = LoaderCache()
            cache.flush_all()
            cache.loaders.clear()
    (out_dir / "mergekit_config.yml").write_text(text)
    return text


def parse_merge_yaml(text: str, paths: dict[str, str] | None = None) -> MergeConfiguration:
    """Parse a stored mergekit recipe back into a validated configuration; with ``paths``
    (model id -> local folder) its models point at those folders, ready for ``run_merge``."""
    data = yaml.safe_load(text)
    if paths:
        if "base_model" in data:
            data["base_model"] = paths.get(data["base_model"], data["base_model"])
        for m in data.get("models", []):
            m["model"] = paths.get(m["model"], m["model"])
    return MergeConfiguration.model_validate(data)
