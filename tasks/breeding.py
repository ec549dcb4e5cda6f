"""Steps that make candidate models: propose recipes, then merge and mutate them into weights."""

from __future__ import annotations

import json
import shutil

from prefect import get_run_logger, task

from acdc_core.adapters.merging import merge_models
from acdc_core.adapters.weights import content_hash, mutate_folder
from acdc_core.recipes import ChildRecipe, propose_children, propose_initial_mutants
from acdc_core.rng import rng_stream
from tasks.context import RunContext, cache_key, model_key, retry_unless_bad_input


@task(name="propose-children")
def propose(run_dir: str, generation: int, archive_ids: list[str], base_id: str) -> list[dict]:
    """Select parents and draw the generation's child recipes (pure, seeded by the generation).

    Generation 0 proposes ``models.initial_mutants`` mutants spread over the seeds
    (``archive_ids`` then holds the seed models) instead.  Returns the recipes as JSON-ready dicts.
    """
    ctx = RunContext.load(run_dir)
    cfg = ctx.config
    rng = rng_stream(cfg.run.seed, generation, "breeding")
    if generation == 0:
        recipes = propose_initial_mutants(archive_ids, cfg.models.initial_mutants, cfg.mutation, rng)
    else:
        recipes = propose_children(
            archive_ids, cfg.population.children_per_generation, generation,
            cfg.crossover, cfg.mutation, base_id, rng,
        )
    return [r.model_dump(mode="json") for r in recipes]


@task(
    name="make-child",
    retries=2,
    retry_condition_fn=retry_unless_bad_input,
    retry_delay_seconds=[2, 10],
    cache_key_fn=cache_key("child", "recipe"),
    persist_result=True,
)
def make_child(run_dir: str, recipe: dict) -> dict:
    """Merge (mergekit) and/or mutate per ``recipe``; store the HF folder under its content hash.

    Returns:
        {"model_id", "uri", "parents", "operator", "recipe", "merge_config_yaml", "seed"}.
    """
    ctx = RunContext.load(run_dir)
    r = ChildRecipe.model_validate(recipe)
    dtype = ctx.config.models.storage_dtype
    work = ctx.work_dir / r.key()
    shutil.rmtree(work, ignore_errors=True)  # leftovers of an interrupted attempt
    needed = set(r.parents) | ({r.merge.base} if r.merge and r.merge.base else set())
    paths = {mid: str(ctx.model_dir(mid)) for mid in needed}
    merge_yaml = None
    if r.merge is not None:
        src = work / "merged"
        merge_yaml = merge_models(r.merge, paths, src, dtype)
    else:
        src = ctx.model_dir(r.source)
    out = src
    if r.mutation is not None:
        out = work / "mutated"
        mutate_folder(src, out, r.mutation)
    mid = content_hash(out)
    (out / "acdc_recipe.json").write_text(json.dumps(recipe, indent=1))
    key = model_key(mid)
    uri = ctx.blobs.uri(key) if ctx.blobs.exists(key) else ctx.blobs.put_dir(out, key, move=True)
    shutil.rmtree(work, ignore_errors=True)
    get_run_logger().info("child %d (%s of %s) -> model %s", r.index, r.operator, ", ".join(r.parents), mid)
    return {
        "model_id": mid, "uri": uri, "parents": list(r.parents), "operator": r.operator,
        "recipe": recipe, "merge_config_yaml": merge_yaml,
        "seed": r.mutation.seed if r.mutation else (r.merge.seed if r.merge else None),
    }
