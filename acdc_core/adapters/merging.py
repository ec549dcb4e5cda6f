"""mergekit adapter: perform a :class:`MergeRecipe` on state dicts in memory
(``merge_state_dicts``, what a run does) or on folders (``run_merge``, the stored recipe's
reference), with the same result bit for bit."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Mapping

import torch
import yaml
from mergekit.config import MergeConfiguration
from mergekit.io.tasks import LoaderCache
from mergekit.merge import MergeOptions, run_merge
from mergekit.merge_methods import merge_state_dicts

from acdc_core.adapters.weights import StateDict
from acdc_core.merge_methods import MERGE_METHODS
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
    text = merge_yaml(recipe, list(paths), dtype)
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


def merge_yaml(recipe: MergeRecipe, ids: list[str], dtype: str) -> str:
    """The mergekit configuration of ``recipe`` as YAML, naming models by their ids (a portable
    recipe: :func:`parse_merge_yaml` with local paths makes it runnable).

    Raises:
        pydantic.ValidationError: when mergekit rejects the configuration.
    """
    return MergeConfiguration.model_validate(mergekit_config(recipe, {m: m for m in ids}, dtype)).to_yaml()


def merge_weights(recipe: MergeRecipe, weights: Mapping[str, StateDict], dtype: str) -> StateDict:
    """``recipe`` merged in memory by mergekit's ``merge_state_dicts``, computed and returned in
    ``dtype`` as ``run_merge`` does, so the tensors equal :func:`merge_models`' bit for bit
    (tests/test_merging.py checks every method).

    Args:
        weights: model id -> state dict, for every parent and the base.

    Raises:
        KeyError: when a parent or the base has no weights.
        ValueError: when the state dicts do not share their tensor names.
    """
    spec, dt = MERGE_METHODS[recipe.method], getattr(torch, dtype)
    if spec.pairwise:
        models, params, base = {p: weights[p] for p in recipe.parents}, {"t": recipe.t}, recipe.parents[0]
    else:
        models, base = {m: weights[m] for m in recipe.inputs}, recipe.base
        params = {"weight": dict(zip(recipe.parents, recipe.weights or ())), "normalize": recipe.normalize}
        if recipe.density is not None:
            params["density"] = {p: recipe.density for p in recipe.parents}
    with _MERGE_LOCK, torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(recipe.seed)  # as run_merge seeds the random parts (dare)
        return merge_state_dicts(models, recipe.method, parameters=params, base=base, dtype=dt, out_dtype=dt)


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
