"""Steps that measure transfer (:mod:`acdc_core.transfer`): drawing held-out instances, stored
models answering them (greedy or sampled), and parents re-sampled on what their children found."""

from __future__ import annotations

import json

import numpy as np
from prefect import get_run_logger, task

from acdc_core.adapters.evaluation import evaluate
from acdc_core.adapters.sandbox import SandboxError
from acdc_core.hashing import stable_hash
from acdc_core.rng import sampling_seed
from acdc_core.skills import skill_table, skill_vector
from acdc_core.steps import ChildEffects, HeldoutOutcome, TaskChanges
from acdc_core.taskfamily import TaskFamily, TaskSet
from acdc_core.transfer import NoiseFloor, heldout_coverage, pick_heldout, replicate, split_sample
from storage import queries
from tasks import sessions
from tasks.policies import cache_key, retry_unless_bad_input
from tasks.run_folder import RunContext

MAX_DRAWN = 64  # instances asked of one re-seeded draw, before those equal to a selection instance go


@task(
    name="draw-heldout",
    retries=1,
    retry_condition_fn=retry_unless_bad_input,
    cache_key_fn=cache_key("heldout-draw", "task_set", "generation"),
    persist_result=True,
)
def draw_heldout(run_dir: str, task_set: str, tasks: TaskSet, generation: int) -> tuple[list[dict], list[dict]]:
    """Held-out instances of the families ``tasks`` (identified by ``task_set``), each drawn in
    the sandbox from its own generator re-seeded for ``heldout.draw`` and disjoint from the
    family's selection instances (:func:`acdc_core.transfer.pick_heldout`).

    Returns:
        (``heldout_instances`` rows, ``heldout_draws`` rows: one per family, with the number
        drawn and the sandbox's error when the draw failed, in which case it has none).
    """
    ctx = RunContext.load(run_dir)
    h = ctx.config.heldout
    sandbox = sessions.sandbox(ctx)
    instances, draws = [], []
    for f in tasks.families:
        error = None
        try:
            drawn = sandbox.instances(f.code, min(MAX_DRAWN, 4 * (h.instances + len(f.instances))), draw=h.draw)
            picked = pick_heldout(f.instructions(), drawn, h.instances)
        except SandboxError as exc:
            picked, error = {}, str(exc)[:500]
        instances += [{"task_id": f.task_id, "instance_id": iid, "task": json.dumps(inst["task"]),
                       "instructions": inst["instructions"]} for iid, inst in picked.items()]
        draws.append({"task_id": f.task_id, "draw": h.draw, "n_instances": len(picked), "generation": generation,
                      "error": error})
    get_run_logger().info("held-out instances: %d for %d families (%d families gave none)", len(instances),
                          len(draws), sum(1 for d in draws if not d["n_instances"]))
    return instances, draws


@task(
    name="answer-heldout",
    retries=1,
    retry_condition_fn=retry_unless_bad_input,
    cache_key_fn=cache_key("heldout", "model_id", "task_set", "samples"),
    persist_result=True,
)
def answer_heldout(run_dir: str, model_id: str, task_set: str, tasks: TaskSet, samples: int = 0,
                   temperature: float = 0.0) -> list[dict]:
    """A stored model's answers to the held-out instances ``tasks`` (identified by
    ``task_set``), from the run's resident pool: greedy (``samples`` 0, what coverage reads) or
    ``samples`` draws each at ``temperature`` in one batch (the resampling baseline).

    Returns ``heldout_answers`` rows (sample 0 greedy, 1 .. ``samples`` the draws; ``generation``
    unset).
    """
    ctx = RunContext.load(run_dir)
    e = ctx.config.evaluation
    seed = sampling_seed(ctx.config.run.seed, 0, "heldout", model_id) if samples else 0
    out = []
    for r in _answers(ctx, model_id, tasks, samples, temperature, seed):
        iid, k = split_sample(r["instance_id"]) if samples else (r["instance_id"], 0)
        out.append({"model_id": model_id, "task_id": r["task_id"], "instance_id": iid, "sample": k,
                    "temperature": temperature if samples else 0.0, "score": r["score"], "response": r["response"],
                    "submission": r["submission"], "error": r["error"], "tokens": r["tokens"]})
    get_run_logger().info("model %s: %d of %d held-out answers solved", model_id,
                          sum(r["score"] >= e.solved_threshold for r in out), len(out))
    return out


@task(
    name="resample-parent",
    retries=1,
    retry_condition_fn=retry_unless_bad_input,
    cache_key_fn=cache_key("resample", "model_id", "task_set", "generation"),
    persist_result=True,
)
def resample_parent(run_dir: str, model_id: str, task_set: str, tasks: TaskSet, generation: int) -> list[tuple]:
    """A parent answering the instances ``tasks`` that its children found, ``noise.samples``
    times each at ``noise.temperature`` in one batch.

    Returns (model_id, task_id, instance_id, score) per sample.
    """
    ctx = RunContext.load(run_dir)
    n = ctx.config.noise
    seed = sampling_seed(ctx.config.run.seed, generation, "noise", model_id)
    return [(model_id, r["task_id"], split_sample(r["instance_id"])[0], r["score"])
            for r in _answers(ctx, model_id, tasks, n.samples, n.temperature, seed)]


def _answers(ctx: RunContext, model_id: str, tasks: TaskSet, samples: int, temperature: float,
             seed: int) -> list[dict]:
    """Evaluation rows of the stored model ``model_id`` (resident) on ``tasks``: greedy once per
    instance when ``samples`` is 0, else ``samples`` draws per instance at ``temperature`` in one
    batch (instance ids ``"id#k"``, :func:`acdc_core.transfer.split_sample`)."""
    e = ctx.config.evaluation
    asked, temperature = (replicate(tasks, samples), temperature) if samples else (tasks, 0.0)
    with sessions.resident_backend(ctx, model_id) as backend:
        return evaluate(backend, asked, sessions.sandbox(ctx), e.prompt_template, e.max_new_tokens, temperature, seed)


def noise_rows(generation: int, noise: NoiseFloor, parents: dict[str, tuple[str, ...]]) -> list[dict]:
    """``noise_floor`` rows: one per (child, instance it found); none without samples."""
    if not noise.samples:
        return []
    return [{"generation": generation, "model_id": c, "task_id": k.split("/", 1)[0], "instance_id": k.split("/", 1)[1],
             "parent_samples": noise.samples * len(parents.get(c, ())), "parent_solved": noise.reached.get(k, 0)}
            for c, keys in noise.found.items() for k in keys]


_FAMILY_KEYS = ("task_id", "name", "code", "description", "capability", "domain")


def pairs_hash(tasks: TaskSet) -> str:
    """A cache key of exactly which instances ``tasks`` holds (a task-set hash names families only)."""
    return stable_hash({f.task_id: sorted(f.instances) for f in tasks.families})


def undrawn_families(run_dir: str, generation: int, seed_tasks: TaskSet, changes: TaskChanges) -> TaskSet:
    """Families whose held-out instances are to be drawn now: the seed task set (generation 0),
    the families this generation admitted, and any family of the history never drawn (a run
    begun before held-out instances existed)."""
    if generation == 0:
        return seed_tasks
    ctx = RunContext.load(run_dir)
    drawn = ctx.db.read(queries.heldout_drawn)
    by_task: dict[str, dict] = {}
    for i in changes.task_instances:
        by_task.setdefault(i["task_id"], {})[i["instance_id"]] = {"task": json.loads(i["task"]),
                                                                  "instructions": i["instructions"]}
    new = [TaskFamily(**{k: f[k] for k in _FAMILY_KEYS}).with_instances(by_task.get(f["task_id"], {}))
           for f in changes.task_families]
    old = [f for f in ctx.db.read(queries.task_families) if f["task_id"] not in drawn]
    return TaskSet(families=tuple(TaskSet.from_rows(old).families) + tuple(new))


def heldout_pool(run_dir: str, new: TaskSet = TaskSet(), instances: list[dict] = ()) -> TaskSet:
    """Every family with held-out instances, holding those (stored ones and ``instances``, the
    ``heldout_instances`` rows just drawn for the families ``new``), in task id order."""
    ctx = RunContext.load(run_dir)
    stored = ctx.db.read(queries.heldout_instances)
    for r in instances:
        stored.setdefault(r["task_id"], {})[r["instance_id"]] = {"task": json.loads(r["task"]),
                                                                 "instructions": r["instructions"]}
    families = {f.task_id: f for f in new.families}
    families.update({f["task_id"]: TaskFamily(**{k: f[k] for k in _FAMILY_KEYS})
                     for f in ctx.db.read(queries.task_families, [t for t in stored if t not in families])})
    return TaskSet(families=tuple(families[t].with_instances(v) for t, v in sorted(stored.items()) if v))


def missing_heldout(run_dir: str, models: list[str], instances: list[dict] = ()) -> dict[str, dict[str, list[str]]]:
    """{model_id: {task_id: [instance_id]}}: the held-out instances each of ``models`` has not
    answered, the stored ones and ``instances`` (rows just drawn)."""
    missing: dict[str, dict[str, list[str]]] = {}
    for m, t, i in RunContext.load(run_dir).db.read(queries.heldout_missing, models):
        missing.setdefault(m, {}).setdefault(t, []).append(i)
    for m in models:
        for r in instances:
            missing.setdefault(m, {}).setdefault(r["task_id"], []).append(r["instance_id"])
    return missing


def heldout_outcome(run_dir: str, generation: int, pool: TaskSet, kept: list[str], seed_ids: list[str],
                    instances: list[dict], draws: list[dict], answers: list[dict]) -> HeldoutOutcome:
    """The generation's held-out side: the rows drawn and answered now (``answers`` get the
    generation and source "run") and the archive's and the seeds' coverage of ``pool``."""
    ctx = RunContext.load(run_dir)
    answers = [{**r, "generation": generation, "source": "run"} for r in answers]
    models = list(dict.fromkeys(kept + seed_ids))
    rows = ctx.db.read(queries.heldout_scores, models)
    rows += [(r["model_id"], r["task_id"], r["instance_id"], r["score"]) for r in answers]
    keys = {f"{f.task_id}/{i}" for f, i, _ in pool.instances()}
    coverage = heldout_coverage(rows, keys, kept, seed_ids, ctx.config.evaluation.solved_threshold)
    return HeldoutOutcome(coverage, instances, draws, answers)


def store_heldout_answers(ctx: RunContext, generation: int, rows: list[dict]) -> None:
    """Store held-out answers filled in after the run (source "fill", the last ``generation``)."""
    ctx.db.add_heldout_answers([{**r, "generation": generation, "source": "fill"} for r in rows])


def save_transfer(ctx: RunContext, generation: int, rows: list[dict]) -> None:
    """Store the ``transfer_results`` of ``generation`` (replacing a previous check of it)."""
    ctx.db.save_transfer(generation, rows)


def resample_sets(tasks: TaskSet, effects: ChildEffects) -> dict[str, TaskSet]:
    """{parent id: the instances of ``tasks`` its children found}: what each parent re-samples
    for the noise floor (empty when no child found anything)."""
    found, parents = effects.found(), effects.parents()
    asked: dict[str, dict[str, set[str]]] = {}
    for child, keys in found.items():
        for p in parents[child]:
            for k in keys:
                t, i = k.split("/", 1)
                asked.setdefault(p, {}).setdefault(t, set()).add(i)
    return {p: tasks.only({t: sorted(i) for t, i in sorted(by_task.items())}) for p, by_task in sorted(asked.items())}


def history_skills(run_dir: str, pool_ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(selection, history) boolean matrices of ``pool_ids`` over the task history: solved at the
    run's skill granularity (what task forces are chosen on), and solved per instance (what
    history coverage counts); shapes (len(pool_ids), columns)."""
    ctx = RunContext.load(run_dir)
    e = ctx.config.evaluation
    history_ids = [t["task_id"] for t in ctx.db.read(queries.task_history)]
    rows = ctx.db.read(queries.all_scores, pool_ids, history_ids)
    select = skill_vector(skill_table(rows, pool_ids, history_ids, e.skill_granularity)[0], e.solved_threshold)
    history, _ = skill_table(rows, pool_ids, history_ids, "instance")
    return select.astype(bool), skill_vector(history, e.solved_threshold).astype(bool)


def heldout_solved(run_dir: str, pool_ids: list[str], keys: list[str]) -> np.ndarray:
    """(len(pool_ids), len(keys)) boolean: which model solves which held-out instance greedily
    (``keys``: "task_id/instance_id")."""
    ctx = RunContext.load(run_dir)
    col, row_of = {k: j for j, k in enumerate(keys)}, {m: j for j, m in enumerate(pool_ids)}
    held = np.zeros((len(pool_ids), len(keys)), dtype=bool)
    for m, t, i, s in ctx.db.read(queries.heldout_scores, pool_ids):
        if f"{t}/{i}" in col:
            held[row_of[m], col[f"{t}/{i}"]] |= s >= ctx.config.evaluation.solved_threshold
    return held


def missing_samples(run_dir: str, model_id: str, asked: dict[str, list[str]], samples: int,
                    temperature: float) -> bool:
    """Whether ``model_id`` lacks any of draws 1..``samples`` at ``temperature`` on ``asked``."""
    stored = RunContext.load(run_dir).db.read(queries.heldout_samples, model_id, temperature)
    have = {(t, i, k) for _, t, i, k, _ in stored}
    return any((t, i, k) not in have for t, iids in asked.items() for i in iids for k in range(1, samples + 1))


def sampled_solved(run_dir: str, model_id: str, keys: list[str], samples: int, temperature: float) -> np.ndarray:
    """(samples, len(keys)) boolean: which of ``model_id``'s draws at ``temperature`` solve which
    held-out instance."""
    ctx = RunContext.load(run_dir)
    col = {k: j for j, k in enumerate(keys)}
    sampled = np.zeros((samples, len(keys)), dtype=bool)
    for _, t, i, k, s in ctx.db.read(queries.heldout_samples, model_id, temperature):
        if f"{t}/{i}" in col and 1 <= k <= samples:
            sampled[k - 1, col[f"{t}/{i}"]] |= s >= ctx.config.evaluation.solved_threshold
    return sampled

