"""Seed experts: fine-tunes of the run's base model, built once per machine and registered.

A built expert is kept in the user cache (``cache_dir()/experts/<recipe hash>``), so later runs
and ``acdc seeds build`` reuse it; the run gets a copy in its blob store and a ``seed_experts``
row with the full recipe and loss curve.  Nothing is stored or registered for a build that
fails (a diverged loss, a broken base).
"""

from __future__ import annotations

import json
import shutil
import time

import torch
from prefect import get_run_logger, task

from acdc_core.adapters.finetune import TrainPair, TrainSpec, finetune
from acdc_core.adapters.weights import content_hash
from acdc_core.config import ExpertSpec
from acdc_core.expert_data import training_items
from acdc_core.hashing import stable_hash
from storage.blobs import BlobStore
from tasks import sessions
from tasks.policies import cache_key, retry_unless_bad_input
from tasks.progress import TrainProgress
from tasks.run_folder import RunContext, model_key
from tasks.shipped import cache_dir

RECIPE_FILE = "acdc_expert.json"


def train_spec(spec: ExpertSpec) -> TrainSpec:
    return TrainSpec(
        steps=spec.steps, batch_size=spec.batch_size, lr=spec.lr, warmup=spec.warmup,
        lora_rank=spec.lora_rank, lora_alpha=spec.lora_alpha, lora_layers=spec.lora_layers, seed=spec.seed,
    )


def replay_prompts(specs: list[ExpertSpec], exclude: list[str], template: str) -> list[str]:
    """Every replay prompt of every expert of ``specs`` (the run's prompt template applied),
    sorted: the base model answers them in one session, shared by the experts."""
    return sorted({template.format(instructions=i.instructions) for spec in specs
                   for i in training_items(spec.skill, spec.examples, spec.replay_share, spec.data_seed, exclude)[1]})


def expert_recipe(spec: ExpertSpec, base_id: str, family: str | None, exclude: list[str],
                  template: str, max_new_tokens: int, save_dtype: str, replay_set: str) -> dict:
    """Everything that determines an expert's weights (its hash names the cached build).

    ``replay_set``: hash of the replay prompts answered together in one batch (the answers of a
    batched greedy generation may depend on what else is in the batch)."""
    return {
        "name": spec.name, "skill": spec.skill, "family": family, "base_model_id": base_id,
        "method": "lora-merged", "save_dtype": save_dtype,
        "data": {
            "generator": f"acdc_core.expert_data:{spec.skill}", "seed": spec.data_seed,
            "examples": spec.examples, "replay_share": spec.replay_share,
            "replay": "base model's greedy answers to the other skills' prompts and to general questions",
            "replay_max_new_tokens": max_new_tokens, "prompt_template": template, "replay_set": replay_set,
            "excluded_instructions": len(exclude), "excluded_hash": stable_hash(sorted(exclude)),
        },
        "train": train_spec(spec).as_dict(),
    }


def expert_build(ctx: RunContext, spec: ExpertSpec, base_id: str, exclude: list[str], replay_set: str) -> tuple[dict, str]:
    """(recipe, cache key under ``cache_dir()``) of one expert of the run."""
    e = ctx.config.evaluation
    family = None if ctx.config.models.seeds else ctx.config.models.family
    recipe = expert_recipe(spec, base_id, family, exclude, e.prompt_template, e.max_new_tokens,
                           ctx.config.models.storage_dtype, replay_set)
    return recipe, f"experts/{spec.name}-{stable_hash(recipe)}"


def is_built(ctx: RunContext, spec: ExpertSpec, base_id: str, exclude: list[str], replay_set: str) -> bool:
    """Whether this machine's cache already holds the expert's build."""
    key = expert_build(ctx, spec, base_id, exclude, replay_set)[1]
    return BlobStore(str(cache_dir()), cache_dir()).exists(key)


@task(
    name="replay-answers",
    retries=1,
    retry_condition_fn=retry_unless_bad_input,
    cache_key_fn=cache_key("replay", "base_id", "prompts"),
    persist_result=True,
)
def replay_answers(run_dir: str, base_id: str, prompts: list[str]) -> list[dict]:
    """The base model's greedy answers to the experts' replay ``prompts``, in one load, in
    float32 whatever ``evaluation.dtype``: they are training data, and an expert's recipe (its
    cache key) names the prompts, so the answers must not depend on the machine.

    Returns one {"text", "ends"} per prompt (``ends``: stopped before the token budget)."""
    ctx = RunContext.load(run_dir)
    get_run_logger().info("the base model answers %d replay prompts for the experts", len(prompts))
    e = ctx.config.evaluation
    backend = sessions.backend(ctx, base_id, dtype="float32")
    try:
        gens = backend.generate(prompts, e.max_new_tokens)
    finally:
        backend.close()
    return [{"text": g.text, "ends": g.tokens < e.max_new_tokens} for g in gens]


def _train(ctx: RunContext, spec: ExpertSpec, base_id: str, exclude: list[str], replay: dict[str, dict],
           out_dir, log) -> list[float]:
    e = ctx.config.evaluation
    own, items = training_items(spec.skill, spec.examples, spec.replay_share, spec.data_seed, exclude)
    pairs = [TrainPair(e.prompt_template.format(instructions=i.instructions), i.completion) for i in own]
    for item in items:
        prompt = e.prompt_template.format(instructions=item.instructions)
        pairs.append(TrainPair(prompt, replay[prompt]["text"], ends=replay[prompt]["ends"]))
    torch.set_num_threads(e.torch_threads)
    progress = TrainProgress(log, f"expert {spec.name}", spec.steps)
    try:
        return finetune(ctx.model_dir(base_id), out_dir, pairs, train_spec(spec), save_dtype=ctx.config.models.storage_dtype,
                        use_chat_template=e.use_chat_template, progress=progress)
    finally:
        progress.close()


@task(
    name="build-expert",
    retries=1,
    retry_condition_fn=retry_unless_bad_input,
    cache_key_fn=cache_key("expert", "base_id", "spec", "exclude", "replay_set"),
    persist_result=True,
)
def build_expert(run_dir: str, base_id: str, spec: dict, exclude: list[str], replay_set: str,
                 replay: dict[str, dict]) -> dict:
    """Fine-tune (or reuse) the expert ``spec`` (an ``ExpertSpec`` dump) from the base model
    ``base_id``, put it in the run's blob store and register it in ``seed_experts``.

    ``exclude``: instruction texts the training data must not contain (the run's task instances).
    ``replay``: prompt -> the base model's answer ({"text", "ends"}) for every replay prompt of
    this expert (see :func:`replay_answers`; empty when the build is cached), answered together
    as the set hashed ``replay_set``.

    Returns:
        {"model_id", "uri", "name", "source", "role": "seed", "is_base": False, "recipe"}.

    Raises:
        TrainingDiverged: the loss went NaN; nothing is cached, stored or registered.
    """
    ctx = RunContext.load(run_dir)
    log = get_run_logger()
    es = ExpertSpec.model_validate(spec)
    recipe, key = expert_build(ctx, es, base_id, exclude, replay_set)
    cache = BlobStore(str(cache_dir()), cache_dir())
    if cache.exists(key):
        log.info("expert %s: reusing the build in %s", es.name, cache.local_dir(key))
        meta = json.loads((cache.local_dir(key) / RECIPE_FILE).read_text())
    else:
        tmp = cache_dir() / f"{key}.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        t0 = time.perf_counter()
        try:
            curve = _train(ctx, es, base_id, exclude, replay, tmp, log)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        meta = {"recipe": recipe, "loss_curve": curve, "train_seconds": time.perf_counter() - t0}
        (tmp / RECIPE_FILE).write_text(json.dumps(meta, indent=1))
        cache.put_dir(tmp, key, move=True)
        log.info("expert %s built in %.0f s, final loss %.3f", es.name, meta["train_seconds"], curve[-1])
    src = cache.local_dir(key)
    mid = content_hash(src)
    if not ctx.blobs.exists(model_key(mid)):
        staging = ctx.work_dir / f"expert-{es.name}"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(src, staging, ignore=shutil.ignore_patterns("_COMPLETE"))
        ctx.blobs.put_dir(staging, model_key(mid), move=True)
    uri = ctx.blobs.uri(model_key(mid))
    ctx.db.register_seed_expert({
        "model_id": mid, "name": es.name, "skill": es.skill, "family": recipe["family"], "base_model_id": base_id,
        "uri": uri, "recipe": recipe, "loss_curve": meta["loss_curve"], "train_seconds": meta["train_seconds"],
    })
    return {"model_id": mid, "uri": uri, "name": es.name, "source": f"expert:{es.skill}", "role": "seed",
            "is_base": False, "recipe": {**recipe, "final_loss": meta["loss_curve"][-1]}}
