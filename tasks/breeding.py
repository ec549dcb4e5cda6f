"""Steps that make candidate models: propose recipes, merge and mutate them into weights in
memory where they are evaluated (:func:`tasks.evaluation.breed_child`), stage the folders of
those that may enter the archive and store the ones it keeps."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from prefect import get_run_logger, task

from acdc_core.adapters.candidates import build_weights, recipe_yaml, write_folder
from acdc_core.adapters.weights import StateDict, load_weights, tensor_hash
from acdc_core.recipes import Candidate, ChildRecipe, propose_children, propose_initial_mutants
from acdc_core.rng import rng_stream
from acdc_core.taskfamily import TaskSet
from tasks.run_folder import RunContext, model_key


@task(name="propose-children")
def propose(run_dir: str, generation: int, archive_ids: list[str], base_id: str) -> list[ChildRecipe]:
    """Select parents and draw the generation's child recipes (pure, seeded by the generation).

    Generation 0 proposes ``models.initial_mutants`` mutants spread over the seeds
    (``archive_ids`` then holds the seed models) instead.
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
    return recipes


def gibberish_prompts(run_dir: str, generation: int, tasks: TaskSet) -> list[str]:
    """The instructions a generation's children are screened on: ``gibberish.samples`` of the
    instances of ``tasks``, drawn without replacement (seeded by the generation), in the
    evaluation's prompt template."""
    cfg = RunContext.load(run_dir).config
    rng = rng_stream(cfg.run.seed, generation, "gibberish")
    pool = [inst.instructions for _, _, inst in tasks.instances()]
    picked = rng.choice(len(pool), size=min(cfg.gibberish.samples, len(pool)), replace=False)
    return [cfg.evaluation.prompt_template.format(instructions=pool[i]) for i in picked]


def _build(ctx: RunContext, r: ChildRecipe) -> StateDict:
    return build_weights(r, lambda mid: load_weights(ctx.model_dir(mid)), ctx.config.models.storage_dtype)


def make_weights(ctx: RunContext, recipe: ChildRecipe) -> tuple[Candidate, StateDict]:
    """Merge (mergekit) and/or mutate per ``recipe``, in this process's memory; the child's id is
    the hash of its tensors."""
    weights = _build(ctx, recipe)
    child = Candidate(model_id=tensor_hash(weights), recipe=recipe,
                      merge_config_yaml=recipe_yaml(recipe, ctx.config.models.storage_dtype))
    get_run_logger().info("child %d (%s of %s) -> model %s", recipe.index, recipe.operator,
                          ", ".join(recipe.parents), child.model_id)
    return child, weights


def _staged_dir(ctx: RunContext, model_id: str) -> Path:
    return ctx.work_dir / f"child-{model_id}"


def stage_child(ctx: RunContext, child: Candidate, weights: StateDict) -> None:
    """Write the folder of a child that may enter the archive to the run's work folder, where
    :func:`store_child` moves it into the blob store if the archive keeps it.  Written under a
    temporary name and renamed, so a folder that exists is whole; kept if it already exists."""
    staged = _staged_dir(ctx, child.model_id)
    if staged.is_dir():
        return
    tmp = ctx.work_dir / f"tmp-{child.model_id}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    write_folder(weights, ctx.model_dir(child.recipe.template), tmp, child.recipe.model_dump(mode="json"),
                 child.merge_config_yaml)
    try:
        os.rename(tmp, staged)
    except OSError:  # a sibling with the same weights staged it first
        shutil.rmtree(tmp, ignore_errors=True)


def child_weights(ctx: RunContext, child: Candidate) -> StateDict:
    """The weights of ``child``: from the blob store when it was kept, else from its staged
    folder, else remade from its recipe (after a resume on a machine that lost the folder).

    Raises:
        ValueError: when the remade weights do not hash to its id (the parents changed).
    """
    mid = child.model_id
    if ctx.blobs.exists(model_key(mid)):
        return load_weights(ctx.model_dir(mid))
    if _staged_dir(ctx, mid).is_dir():
        return load_weights(_staged_dir(ctx, mid))
    weights = _build(ctx, child.recipe)
    if (got := tensor_hash(weights)) != mid:
        raise ValueError(f"recipe of model {mid} remakes weights {got}: its parents' weights changed")
    get_run_logger().info("model %s remade from its recipe", mid)
    return weights


@task(name="store-child", retries=2, retry_delay_seconds=[2, 10])
def store_child(run_dir: str, child: Candidate) -> str:
    """Move a kept child's staged folder (its weights, its template's config and tokenizer, its
    recipe) into the blob store; returns its URI.  Remade from its recipe when the folder is
    gone (see :func:`child_weights`).  Idempotent: a stored child is not rewritten."""
    ctx = RunContext.load(run_dir)
    mid, key = child.model_id, model_key(child.model_id)
    if ctx.blobs.exists(key):
        return ctx.blobs.uri(key)
    if not _staged_dir(ctx, mid).is_dir():
        stage_child(ctx, child, child_weights(ctx, child))
    uri = ctx.blobs.put_dir(_staged_dir(ctx, mid), key, move=True)
    get_run_logger().info("model %s stored at %s", mid, uri)
    return uri


def discard_staged(run_dir: str, children: list[Candidate]) -> None:
    """Delete what is left of the staged folders of ``children`` once the kept ones are stored
    (moved into the blob store), and any half-written one of an interrupted attempt: the others
    are remade from their recipes if ever needed."""
    ctx = RunContext.load(run_dir)
    for c in children:
        for folder in [_staged_dir(ctx, c.model_id), *ctx.work_dir.glob(f"tmp-{c.model_id}-*")]:
            shutil.rmtree(folder, ignore_errors=True)
