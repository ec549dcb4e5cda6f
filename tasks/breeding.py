"""Steps that make candidate models: propose recipes, merge and mutate them into weights in
memory, and store the ones the archive keeps."""

from __future__ import annotations

import shutil

from prefect import get_run_logger, task

from acdc_core.adapters.candidates import build_weights, recipe_yaml, write_folder
from acdc_core.adapters.weights import StateDict, load_weights, tensor_hash
from acdc_core.recipes import Candidate, ChildRecipe, propose_children, propose_initial_mutants
from acdc_core.rng import rng_stream
from acdc_core.taskfamily import TaskSet
from tasks import sessions
from tasks.policies import cache_key, retry_unless_bad_input
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


def child_weights(ctx: RunContext, child: Candidate) -> StateDict:
    """The weights of ``child``: in memory when this process made it, else from the blob store
    when it was kept, else remade from its recipe (after a resume, or on another worker).

    Raises:
        ValueError: when the remade weights do not hash to its id (the parents changed).
    """
    mid = child.model_id
    if mid in sessions.MADE:
        return sessions.MADE[mid]
    if ctx.blobs.exists(model_key(mid)):
        return load_weights(ctx.model_dir(mid))
    weights = _build(ctx, child.recipe)
    if (got := tensor_hash(weights)) != mid:
        raise ValueError(f"recipe of model {mid} remakes weights {got}: its parents' weights changed")
    get_run_logger().info("model %s remade from its recipe", mid)
    sessions.MADE[mid] = weights
    return weights


@task(
    name="make-child",
    retries=2,
    retry_condition_fn=retry_unless_bad_input,
    retry_delay_seconds=[2, 10],
    cache_key_fn=cache_key("candidate", "recipe"),
    persist_result=True,
)
def make_child(run_dir: str, recipe: ChildRecipe) -> Candidate:
    """Merge (mergekit) and/or mutate per ``recipe`` in memory; the id is the hash of the
    tensors.  Nothing is written: the weights wait in this process for the evaluation, and
    :func:`store_child` writes them if the child is kept."""
    ctx = RunContext.load(run_dir)
    weights = _build(ctx, recipe)
    mid = tensor_hash(weights)
    sessions.MADE[mid] = weights
    get_run_logger().info("child %d (%s of %s) -> model %s", recipe.index, recipe.operator,
                          ", ".join(recipe.parents), mid)
    return Candidate(model_id=mid, recipe=recipe, merge_config_yaml=recipe_yaml(recipe, ctx.config.models.storage_dtype))


@task(name="store-child", retries=2, retry_delay_seconds=[2, 10])
def store_child(run_dir: str, child: Candidate) -> str:
    """Write a kept child's folder to the blob store (its weights, its template's config and
    tokenizer, its recipe); returns its URI.  Remade from its recipe when this process no longer
    holds the weights (see :func:`child_weights`).  Idempotent: a stored child is not rewritten."""
    ctx = RunContext.load(run_dir)
    mid, key = child.model_id, model_key(child.model_id)
    if ctx.blobs.exists(key):
        return ctx.blobs.uri(key)
    work = ctx.work_dir / f"store-{mid}"
    shutil.rmtree(work, ignore_errors=True)  # leftovers of an interrupted attempt
    write_folder(child_weights(ctx, child), ctx.model_dir(child.recipe.template), work,
                 child.recipe.model_dump(mode="json"), child.merge_config_yaml)
    uri = ctx.blobs.put_dir(work, key, move=True)
    get_run_logger().info("model %s stored at %s", mid, uri)
    return uri
