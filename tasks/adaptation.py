"""Steps of task adaptation and the task half of a generation: start (the plan) and conclude an
adaptation, ask the scientist, validate, filter for novelty, embed, measure the task archive's
diversity, and the generation's task side.  Each is thin: core functions do the deciding (the
reflection rounds are :class:`acdc_core.reflection.Reflection`)."""

from __future__ import annotations

import json
from dataclasses import asdict, replace

import numpy as np
from prefect import get_run_logger, task

from acdc_core.adaptation import (
    Admission,
    conclude_adaptation,
    discriminating_share,
    pass_rates,
    plan_adaptation,
    unsolved_streaks,
)
from acdc_core.adapters.chat import make_scientist
from acdc_core.adapters.embedding import embed, task_text
from acdc_core.diversity import clusters, vendi
from acdc_core.novelty import novel_mask
from acdc_core.reflection import CheckedReply, NoveltyVerdict, Reflection
from acdc_core.rng import rng_stream
from acdc_core.scientist import TaskRequest
from acdc_core.scientist.replies import extract_code
from acdc_core.skills import ScoreRow
from acdc_core.steps import AdaptationStart, TaskChanges, TaskDiversity, TaskSide
from acdc_core.taskfamily import TaskFamily, TaskFamilyError, TaskSet, family_from_code
from acdc_core.validation import validate_family
from storage import queries
from tasks import sessions
from tasks.archive import task_rows
from tasks.policies import cache_key, retry_unless_bad_input
from tasks.run_folder import RunContext
from tasks.sessions import local_chat

NOVEL_OPERATIONS = ("novel_related", "novel_new")


def request_dicts(requests: list[TaskRequest]) -> list[dict]:
    """JSON-able form of requests (Prefect parameters and cache keys)."""
    return [{**asdict(r), "known_names": list(r.known_names)} for r in requests]


def _requests(dicts: list[dict]) -> list[TaskRequest]:
    return [TaskRequest(**{**d, "known_names": tuple(d["known_names"])}) for d in dicts]


@task(
    name="ask-scientist",
    retries=2,
    retry_delay_seconds=[5, 30],
    retry_condition_fn=retry_unless_bad_input,
    cache_key_fn=cache_key("scientist", "generation", "round", "requests", "attempts", "errors"),
    persist_result=True,
)
def ask_scientist(run_dir: str, generation: int, round: int, requests: list[dict],
                  attempts: list[str] | None = None, errors: list[str] | None = None) -> list[str]:
    """The scientist's reply texts: first attempts (round 0) or self-reflections on
    ``attempts`` and their ``errors``.  Cached, so a resumed run never pays an LLM twice."""
    scientist = make_scientist(local_chat(RunContext.load(run_dir).config.scientist))
    reqs = _requests(requests)
    if round == 0:
        return scientist.write(reqs)
    return scientist.reflect(reqs, attempts or [], errors or [])


@task(name="validate-tasks")
def validate_replies(run_dir: str, replies: list[str], requests: list[dict], known_ids: list[str],
                     known_names: list[str]) -> list[CheckedReply]:
    """Check each reply's family (see :func:`acdc_core.validation.validate_family`); one
    :class:`acdc_core.reflection.CheckedReply` per reply."""
    ctx = RunContext.load(run_dir)
    cfg = ctx.config
    sandbox = sessions.sandbox(ctx)
    ids, names = set(known_ids), set(known_names)
    out = []
    for reply, req in zip(replies, requests):
        task_id = name = None
        try:
            code = extract_code(reply)
            parsed = family_from_code(code)
            task_id, name = parsed.task_id, parsed.name
            fam = validate_family(
                code, sandbox, origin=req["operation"], parent_id=req["parent"]["task_id"], known_ids=ids,
                known_names=names, max_instances=cfg.evaluation.instances_per_task,
                min_instances=min(cfg.adaptation.min_instances, cfg.evaluation.instances_per_task),
                judge_available=cfg.judge.backend != "none",
            )
        except TaskFamilyError as exc:
            out.append(CheckedReply(str(exc), None, task_id, name))
        else:
            ids.add(fam.task_id)
            names.add(fam.name)
            out.append(CheckedReply(None, fam, task_id, name))
    return out


@task(name="embed-tasks", retries=1, retry_condition_fn=retry_unless_bad_input)
def embed_tasks(run_dir: str, tasks: TaskSet, generation: int) -> list[dict]:
    """``task_embeddings`` rows for ``tasks``: each family's name, description and instructions
    embedded by ``novelty.embedder``."""
    embedder = RunContext.load(run_dir).config.novelty.embedder
    texts = [task_text(f.name, f.description, f.instructions()) for f in tasks.families]
    vecs = embed(texts, embedder)
    return [
        {"task_id": t.task_id, "embedder": embedder, "text": text, "embedding": v.tolist(),
         "created_generation": generation}
        for t, text, v in zip(tasks.families, texts, vecs)
    ]


@task(name="novelty-filter")
def novelty_filter(run_dir: str, candidates: list[TaskFamily], embeddings: list[list[float]], operations: list[str],
                   history: list[dict]) -> list[NoveltyVerdict]:
    """The novelty filter over candidates in order: novel operations must be at most
    ``novelty.max_similarity`` cosine-similar to their nearest task of the whole history
    (``history``: [{"task_id", "code", "embedding"}]) and, with an LLM scientist that has an
    opinion, "interestingly new" next to their ``k_nearest`` tasks.

    Returns one :class:`acdc_core.reflection.NoveltyVerdict` per candidate.
    """
    cfg = RunContext.load(run_dir).config
    nov = cfg.novelty
    hist = np.array([h["embedding"] for h in history], dtype=np.float64).reshape(len(history), -1)
    cand = np.array(embeddings, dtype=np.float64)
    check = [op in NOVEL_OPERATIONS for op in operations]
    flags, found = novel_mask(cand, hist if len(hist) else np.zeros((0, cand.shape[1])), nov.max_similarity,
                              nov.k_nearest, check)
    pool = [h["task_id"] for h in history]
    codes = {h["task_id"]: h["code"] for h in history}
    out = []
    for c, ok, nb in zip(candidates, flags, found):
        near = [pool[i] for i in nb.indices]
        row = {"status": None, "reason": None, "max_similarity": nb.max_similarity if nb.indices else None,
               "nearest_ids": near}
        if not ok:
            row.update(status="not_novel", reason=f"cosine similarity {nb.max_similarity:.3f} to {near[0]} "
                                                  f"> {nov.max_similarity}")
        out.append(row)
        if ok:
            pool.append(c.task_id)
            codes[c.task_id] = c.code
    asked = [i for i, (r, chk) in enumerate(zip(out, check)) if chk and r["status"] is None]
    if asked and nov.ask_scientist and cfg.scientist.backend != "template":
        scientist = make_scientist(local_chat(cfg.scientist))
        verdicts = scientist.is_interesting(
            [candidates[i].code for i in asked], [[codes[t] for t in out[i]["nearest_ids"]] for i in asked]
        )
        for i, v in zip(asked, verdicts):
            if v is False:
                out[i].update(status="not_interesting", reason="the scientist judged it not interestingly new")
    return [NoveltyVerdict(r["status"], r["reason"], r["max_similarity"], r["nearest_ids"]) for r in out]


@task(name="task-diversity")
def task_diversity(run_dir: str, generation: int, embeddings: dict[str, list[float]],
                   active_ids: list[str]) -> TaskDiversity:
    """Vendi scores of the active pool and the whole history, and HDBSCAN clusters of the
    history (:class:`acdc_core.steps.TaskDiversity`)."""
    cfg = RunContext.load(run_dir).config
    ids = sorted(embeddings)
    x = np.array([embeddings[t] for t in ids], dtype=np.float64)
    act = np.array([embeddings[t] for t in active_ids if t in embeddings], dtype=np.float64)
    n_clusters, labels = clusters(x, cfg.diversity.hdbscan_min_cluster_size)
    active = set(active_ids)
    metrics = {
        "vendi_cumulative": vendi(x),
        "vendi_active": vendi(act),
        "hdbscan_clusters": n_clusters,
        "hdbscan_noise_share": float(np.mean(labels == -1)) if len(labels) else 0.0,
        "hdbscan_clusters_active": len({int(label) for t, label in zip(ids, labels) if t in active and label >= 0}),
        "tasks_history": len(ids),
        "tasks_active": len(active_ids),
    }
    get_run_logger().info("task archive: %d active, %d in history; Vendi %.2f active, %.2f cumulative; %d clusters",
                          len(active_ids), len(ids), metrics["vendi_active"], metrics["vendi_cumulative"], n_clusters)
    return TaskDiversity(metrics, [{"generation": generation, "task_id": t, "cluster": int(label)}
                                   for t, label in zip(ids, labels)])


def history_embeddings(run_dir: str, generation: int, tasks: TaskSet) -> list[dict]:
    """``task_embeddings`` rows of the whole task history (generation 0: the seed tasks).
    Families stored without one (a run started before embeddings existed) are embedded now;
    rows computed here carry ``"new": True`` and are committed with the generation."""
    ctx = RunContext.load(run_dir)
    if generation == 0:
        return [{**e, "new": True} for e in embed_tasks(run_dir, tasks, generation)]
    history = ctx.db.read(queries.task_history)
    rows = [{"task_id": h["task_id"], "embedding": h["embedding"]} for h in history if h["embedding"] is not None]
    missing = [h["task_id"] for h in history if h["embedding"] is None]
    if missing:
        stored = TaskSet.from_rows(ctx.db.read(queries.task_families, missing))
        rows += [{**e, "new": True} for e in embed_tasks(run_dir, stored, generation)]
    return rows


def adaptation_due(run_dir: str, generation: int) -> bool:
    """Whether the task pool is adapted after ``generation`` (every ``adaptation.every``-th, never
    after generation 0)."""
    every = RunContext.load(run_dir).config.adaptation.every
    return bool(every) and generation > 0 and generation % every == 0


def archive_pass_rates(run_dir: str, score_rows: list[ScoreRow], kept: list[str], task_ids: list[str]
                       ) -> dict[str, float]:
    """Pass rate of every task of ``task_ids`` over the archive ``kept``, at the run's skill
    granularity (see :func:`acdc_core.adaptation.pass_rates`)."""
    e = RunContext.load(run_dir).config.evaluation
    return pass_rates(score_rows, kept, task_ids, e.solved_threshold, e.skill_granularity)


def task_side(run_dir: str, generation: int, tasks: TaskSet, kept: list[str], history: list[dict],
              changes: TaskChanges, evaluations: list[dict]) -> TaskSide:
    """The task half of a generation after its archive update: the families registered now (the
    seed set in generation 0, else ``changes``, the adaptation's), the task archive's diversity
    over the active pool, and the share of active tasks the kept archive ``kept`` splits.

    Args:
        tasks: the task set the generation evaluated on.
        history: ``task_embeddings`` rows of the history (:func:`history_embeddings`).
        evaluations: the generation's uncommitted evaluation rows (the adaptation's are in
            ``changes``).
    """
    ctx = RunContext.load(run_dir)
    if generation == 0:
        families, instances = task_rows(tasks, generation)
        changes = replace(changes, task_families=families, task_instances=instances)
    active_ids = [t for t in tasks.ids if t not in changes.deactivate]
    active_ids += [f["task_id"] for f in changes.task_families if f["active"] and generation > 0]
    vectors = {e["task_id"]: e["embedding"] for e in history + changes.task_embeddings}
    diversity = task_diversity(run_dir, generation, vectors, active_ids)
    fresh = [(r["model_id"], r["task_id"], r["instance_id"], r["score"]) for r in evaluations + changes.evaluations]
    rates = archive_pass_rates(run_dir, ctx.db.read(queries.all_scores, kept, active_ids) + fresh, kept, active_ids)
    new_embeddings = [{k: v for k, v in e.items() if k != "new"} for e in history if e.get("new")]
    return TaskSide(changes=changes, new_embeddings=new_embeddings + changes.task_embeddings,
                    clusters=diversity.clusters,
                    metrics={**diversity.metrics, **changes.stats,
                             "discriminating_share": discriminating_share(rates)})


def start_adaptation(run_dir: str, generation: int, rates: dict[str, float]) -> AdaptationStart:
    """The active pool, the task history, the unsolved streaks and the pool's floor, and the
    plan drawn on them from ``rates`` (pass rates over the archive), seeded by the generation."""
    ctx = RunContext.load(run_dir)
    cfg, a = ctx.config, ctx.config.adaptation
    active = TaskSet.from_rows(ctx.db.read(queries.active_tasks))
    history = ctx.db.read(queries.task_history)
    streaks = unsolved_streaks(ctx.db.read(queries.task_events, "unsolved"), list(range(a.every, generation, a.every)))
    min_pool = ctx.db.read(queries.initial_task_count) if a.min_pool == "initial" else a.min_pool
    rng = rng_stream(cfg.run.seed, generation, "adaptation")
    plan = plan_adaptation(active, rates, a.parents, rng, generation, [h["name"] for h in history],
                           a.harder_above, a.easier_below, a.novel_new_share, streaks, a.drop_unsolved_after,
                           min_pool)
    get_run_logger().info(
        "adapting tasks: %d active, %d unsolved (%d to drop), %d requests (%d to refill the pool to %d)",
        len(active), len(plan.dropped) + len(plan.unsolved_kept), len(plan.dropped), len(plan.requests),
        len(plan.requests) - min(a.parents, len(plan.requests)), min_pool)
    return AdaptationStart(active, history, streaks, min_pool, plan)


def start_reflection(run_dir: str, generation: int, start: AdaptationStart, archive_ids: list[str]) -> Reflection:
    """The scientist's rounds (:class:`acdc_core.reflection.Reflection`) on the plan's requests,
    novelty checked against the embeddings of the whole task history (:func:`history_embeddings`,
    read here: passed into the adaptation subflow, they would be a flow parameter that grows with
    the history, and Prefect refuses a flow run whose parameters pass 512 KB, about 60 families)."""
    cfg = RunContext.load(run_dir).config
    return Reflection.start(generation, cfg.adaptation.reflection_rounds, request_dicts(start.plan.requests),
                            start.history, history_embeddings(run_dir, generation, TaskSet()), archive_ids,
                            cfg.evaluation.solved_threshold, cfg.evaluation.skill_granularity)


def conclude(run_dir: str, generation: int, start: AdaptationStart, state: Reflection,
             reference_rows: list[dict]) -> TaskChanges:
    """The adaptation's changes once the rounds are over: admissions, retirements, pruning
    (:func:`acdc_core.adaptation.conclude_adaptation`), the admitted families' rows, and the
    reference models' answers ``reference_rows`` on them."""
    a = RunContext.load(run_dir).config.adaptation
    outcome = conclude_adaptation(
        generation, [(t.task_id, t.created_generation) for t in start.active.families], start.plan,
        [Admission(ad.task.task_id, ad.task.name, ad.request["operation"], ad.request["parent"]["task_id"])
         for ad in state.admitted],
        state.final, state.reflections, start.streaks, a.drop_unsolved_after, a.parents, start.min_pool, a.pool_cap)
    families, instances = task_rows(admitted_tasks(state), generation)
    for f in families:
        f["active"] = f["task_id"] not in outcome.deactivate
    get_run_logger().info("task adaptation: %s", json.dumps(outcome.stats))
    return TaskChanges(
        task_families=families, task_instances=instances,
        task_embeddings=[ad.embedding for ad in state.admitted], task_proposals=state.proposals,
        task_events=outcome.events,
        evaluations=[r for ad in state.admitted for r in ad.evaluations] + reference_rows,
        deactivate=outcome.deactivate, stats=outcome.stats,
    )


def admitted_tasks(state: Reflection) -> TaskSet:
    """The families the rounds admitted, with their instances."""
    return TaskSet(families=tuple(ad.task for ad in state.admitted))

