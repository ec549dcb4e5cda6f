"""A candidate's weights from its recipe, in memory (merge, then mutation), and its model
folder once it is kept.

A run makes every child here, evaluates it in a loaded model whose weights it replaces, and
writes a folder for each child that passes its screen; only those the archive keeps are stored,
and any other child is remade bit for bit from its recipe and its parents' stored weights.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from acdc_core.adapters.merging import merge_weights, merge_yaml
from acdc_core.adapters.weights import StateDict, mutate_weights, save_weights_folder
from acdc_core.recipes import ChildRecipe

RECIPE_FILE = "acdc_recipe.json"
MERGE_FILE = "mergekit_config.yml"


def build_weights(recipe: ChildRecipe, parent_weights: Callable[[str], StateDict], dtype: str) -> StateDict:
    """The child's tensors: its merge (mergekit, in ``dtype``) or its source's weights, then its
    mutation.  Deterministic in the recipe and the parents' weights.

    Args:
        parent_weights: model id -> that stored model's state dict (parents and base).
        dtype: the merge's compute and output dtype (``models.storage_dtype``); a mutation keeps
            its input's dtype.

    Raises:
        KeyError / FileNotFoundError: when a parent's weights are missing.
        ValueError: when the parents do not share their tensors, or a mutation is not finite.
    """
    if recipe.merge is not None:
        weights = merge_weights(recipe.merge, {m: parent_weights(m) for m in recipe.merge.inputs}, dtype)
    else:
        weights = parent_weights(recipe.source)
    return mutate_weights(weights, recipe.mutation) if recipe.mutation is not None else weights


def recipe_yaml(recipe: ChildRecipe, dtype: str) -> str | None:
    """The child's merge as a portable mergekit YAML (models named by id), or None without one."""
    if recipe.merge is None:
        return None
    return merge_yaml(recipe.merge, list(recipe.merge.inputs), dtype)


def write_folder(weights: StateDict, template_dir: str | Path, out_dir: str | Path, recipe: dict,
                 merge_config: str | None) -> Path:
    """A Hugging Face folder: ``weights`` as ``model.safetensors``, the template model's config
    and tokenizer files, the recipe (``acdc_recipe.json``) and, for a merge, its mergekit YAML.

    Raises:
        FileNotFoundError: when ``template_dir`` does not exist.
    """
    template_dir, out_dir = Path(template_dir), Path(out_dir)
    if not template_dir.is_dir():
        raise FileNotFoundError(f"template model folder {template_dir} does not exist")
    save_weights_folder(weights, template_dir, out_dir, skip=(RECIPE_FILE, MERGE_FILE, "README.md"))
    (out_dir / RECIPE_FILE).write_text(json.dumps(recipe, indent=1))
    if merge_config is not None:
        (out_dir / MERGE_FILE).write_text(merge_config)
    return out_dir
