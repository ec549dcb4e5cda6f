"""Generation 0 steps: seed models into the blob store, and the task set loaded in the sandbox."""

from __future__ import annotations

import shutil

from prefect import get_run_logger, task

from acdc_core.adapters.sandbox import SandboxError
from acdc_core.adapters.seeds import (
    check_same_tokenizer,
    copy_model_folder,
    resolve_seed_path,
)
from acdc_core.adapters.weights import content_hash
from acdc_core.taskfamily import TaskSet, seed_families
from tasks import sessions
from tasks.policies import cache_key, retry_unless_bad_input
from tasks.run_folder import RunContext, model_key
from tasks.shipped import shipped_seed_folder


@task(
    name="prepare-seeds",
    retries=1,
    retry_condition_fn=retry_unless_bad_input,
    cache_key_fn=cache_key("seeds", "run_dir"),
    persist_result=True,
)
def prepare_seeds(run_dir: str) -> list[dict]:
    """Put every seed model into the blob store.

    Returns:
        [{"model_id", "uri", "name", "source", "role", "is_base"}] in config order, role "seed";
        the first seed is the base model unless ``models.base`` names another model, which is
        then stored too, with role "base" (used for task vectors, never evaluated).

    Raises:
        SeedError: a missing package, a corrupt file, a path that is no model folder, or seeds
            whose tokenizers differ.
    """
    ctx = RunContext.load(run_dir)
    logger = get_run_logger()
    mcfg = ctx.config.models
    sources = [(s.name or f"seed{i}", str(resolve_seed_path(s.path)), "seed", s.path == mcfg.base)
               for i, s in enumerate(mcfg.seeds)]
    if not sources:
        sources = [(mcfg.family, shipped_seed_folder(mcfg.family, mcfg.storage_dtype, logger), "seed", False)]
    if mcfg.base and mcfg.base not in [s.path for s in mcfg.seeds]:
        sources.append(("base", str(resolve_seed_path(mcfg.base)), "base", True))
    if not any(is_base for *_, is_base in sources):
        sources[0] = (*sources[0][:3], True)
    if len(sources) > 1:
        check_same_tokenizer({name: src for name, src, *_ in sources})
    out = []
    for name, src, role, is_base in sources:
        staging = ctx.work_dir / f"seed-{name}"
        shutil.rmtree(staging, ignore_errors=True)
        copy_model_folder(src, staging)
        mid = content_hash(staging)
        uri = ctx.blobs.uri(model_key(mid))
        if not ctx.blobs.exists(model_key(mid)):
            uri = ctx.blobs.put_dir(staging, model_key(mid), move=True)
        shutil.rmtree(staging, ignore_errors=True)
        logger.info("seed %s -> model %s", name, mid)
        out.append({"model_id": mid, "uri": uri, "name": name, "source": src, "role": role, "is_base": is_base})
    return out


@task(
    name="load-task-set",
    retries=1,
    retry_condition_fn=retry_unless_bad_input,
    cache_key_fn=cache_key("task-set", "run_dir"),
    persist_result=True,
)
def load_task_set(run_dir: str) -> TaskSet:
    """The seed task families with their instances, loaded (get_tasks, get_instructions) in the
    sandbox, sorted by name.  A family that fails to load is logged and left out.  (The cache key
    changed with the typed set, so a run resumed across that change reloads it.)
    """
    ctx = RunContext.load(run_dir)
    logger = get_run_logger()
    tcfg = ctx.config.tasks
    sandbox = sessions.sandbox(ctx)
    out = []
    for fam in seed_families(tcfg.include, tcfg.extra_dirs):
        try:
            instances = sandbox.instances(fam.code, ctx.config.evaluation.instances_per_task)
        except SandboxError as exc:
            logger.warning("task family %s left out: %s", fam.name, exc)
            continue
        out.append(fam.with_instances(instances))
    if not out:
        raise RuntimeError("no task family could be loaded; see the warnings above")
    tasks = TaskSet(families=tuple(out))
    logger.info("task set: %d families, %d instances", len(tasks), tasks.n_instances)
    return tasks
