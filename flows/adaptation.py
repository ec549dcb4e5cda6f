"""Task adaptation as a Prefect subflow (ALGORITHM.md step 7), run after every
``adaptation.every``-th generation.

pass rates over the archive -> drop the unsolved -> sample parents, choose operations -> the
scientist writes -> validate -> novelty filter -> the archive answers the new tasks -> errors and
impossible tasks go back to the scientist (up to ``reflection_rounds``) -> admit, retire the
replaced parents, prune the pool to its cap -> the seeds outside the archive answer the admitted
tasks (the reference the archive's coverage of the task history is measured against).  Nothing
is written here: the returned rows join the generation's one commit.
"""

from __future__ import annotations

import json

from prefect import flow, get_run_logger

from acdc_core.adaptation import (
    Admission,
    conclude_adaptation,
    pass_rates,
    plan_adaptation,
    proposal_verdict,
    unsolved_streaks,
)
from acdc_core.rng import rng_stream
from acdc_core.steps import TaskChanges
from acdc_core.taskfamily import TaskSet
from flows.runner import each
from tasks.adaptation import ask_scientist, embed_tasks, novelty_filter, request_dicts, validate_replies
from tasks.archive import task_rows
from tasks.evaluation import evaluate_model
from tasks.run_folder import RunContext


def _proposal_row(generation: int, rnd: int, req: dict, reply: str, checked: dict, status: str,
                  reason: str | None, novelty: dict | None = None) -> dict:
    return {
        "generation": generation, "request_id": req["request_id"], "round": rnd, "operation": req["operation"],
        "parent_id": req["parent"]["task_id"], "task_id": checked.get("task_id"), "name": checked.get("name"),
        "status": status, "reason": reason,
        "max_similarity": (novelty or {}).get("max_similarity"), "nearest_ids": (novelty or {}).get("nearest_ids") or [],
        "reply": reply,
    }


@flow(name="acdc-task-adaptation", flow_run_name="tasks-after-generation-{generation}")
def adapt_tasks(run_dir: str, generation: int, archive_ids: list[str], history_embeddings: list[dict],
                rates: dict[str, float], reference_ids: list[str]) -> TaskChanges:
    """Adapt the task pool against the archive ``archive_ids`` (after this generation's update).

    Args:
        history_embeddings: ``task_embeddings`` rows of every task of the history.
        rates: pass rate of every active task over ``archive_ids``, this generation's admitted
            children included (see :func:`acdc_core.adaptation.pass_rates`).
        reference_ids: models that answer the admitted tasks without taking part in admitting
            them (the seeds outside the archive), so that every model of the reference set has
            answered the whole task history.

    Returns:
        The admitted families' rows, embeddings, proposals, events, the archive's and the
        reference models' evaluation rows on the admitted tasks, the retired task ids and the
        statistics (:class:`acdc_core.steps.TaskChanges`).
    """
    log = get_run_logger()
    ctx = RunContext.load(run_dir)
    cfg, a = ctx.config, ctx.config.adaptation
    thr, granularity = cfg.evaluation.solved_threshold, cfg.evaluation.skill_granularity
    active = TaskSet.from_rows(ctx.db.active_tasks())
    history = ctx.db.task_history()
    streaks = unsolved_streaks(ctx.db.task_events("unsolved"), list(range(a.every, generation, a.every)))
    min_pool = ctx.db.initial_task_count() if a.min_pool == "initial" else a.min_pool
    rng = rng_stream(cfg.run.seed, generation, "adaptation")
    plan = plan_adaptation(active, rates, a.parents, rng, generation, [h["name"] for h in history],
                           a.harder_above, a.easier_below, a.novel_new_share, streaks, a.drop_unsolved_after,
                           min_pool)
    log.info("adapting tasks: %d active, %d unsolved (%d to drop), %d requests (%d to refill the pool to %d)",
             len(active), len(plan.dropped) + len(plan.unsolved_kept), len(plan.dropped), len(plan.requests),
             len(plan.requests) - min(a.parents, len(plan.requests)), min_pool)

    vectors = {e["task_id"]: e["embedding"] for e in history_embeddings}
    codes = {h["task_id"]: h["code"] for h in history}
    known_ids, known_names = [h["task_id"] for h in history], [h["name"] for h in history]
    requests = request_dicts(plan.requests)
    pending = requests
    attempts: dict[str, str] = {}
    errors: dict[str, str] = {}
    proposals: list[dict] = []
    admitted: list[dict] = []  # {"request", "task" (TaskFamily), "embedding", "evaluations"}
    final: dict[str, str] = {}
    tried: set[str] = set()
    for rnd in range(a.reflection_rounds + 1):
        if not pending:
            break
        replies = ask_scientist(
            run_dir, generation, rnd, pending,
            [attempts[r["request_id"]] for r in pending] if rnd else None,
            [errors[r["request_id"]] for r in pending] if rnd else None,
        )
        checked = validate_replies(run_dir, replies, pending, known_ids, known_names)
        ok = [i for i, c in enumerate(checked) if c["error"] is None]
        emb = embed_tasks(run_dir, TaskSet(families=tuple(checked[i]["task"] for i in ok)), generation) if ok else []
        hist = [{"task_id": t, "code": codes[t], "embedding": v} for t, v in vectors.items()]
        nov = novelty_filter(run_dir, [checked[i]["task"] for i in ok], [e["embedding"] for e in emb],
                             [pending[i]["operation"] for i in ok], hist) if ok else []
        novelty = dict(zip(ok, nov))
        embedding = dict(zip(ok, emb))
        trial = [i for i in ok if novelty[i]["status"] is None]
        cands = TaskSet(families=tuple(checked[i]["task"] for i in trial))
        rows: list[dict] = []
        if cands:
            rows = [r for answers in each(evaluate_model, [
                {"run_dir": run_dir, "model_id": m, "task_set": cands.hash, "tasks": cands} for m in archive_ids])
                for r in answers]
        cand_rates = pass_rates([(r["model_id"], r["task_id"], r["instance_id"], r["score"]) for r in rows],
                                archive_ids, cands.ids, thr, granularity)
        retry = []
        tried |= {c["name"] for c in checked if c["name"]}  # rejected names are not to be proposed again
        for i, (req, reply, c) in enumerate(zip(pending, replies, checked)):
            rid = req["request_id"]
            filtered = novelty.get(i, {})
            status, reason = proposal_verdict(c["error"], filtered.get("status"), filtered.get("reason"),
                                              cand_rates.get(c["task_id"]))
            if status == "admitted":
                admitted.append({"request": req, "task": c["task"], "embedding": embedding[i],
                                 "evaluations": [r for r in rows if r["task_id"] == c["task_id"]]})
                vectors[c["task_id"]] = embedding[i]["embedding"]
                codes[c["task_id"]] = c["task"].code
                known_ids.append(c["task_id"])
                known_names.append(c["task"].name)
            proposals.append(_proposal_row(generation, rnd, req, reply, c, status, reason, novelty.get(i)))
            if status in ("invalid", "impossible") and rnd < a.reflection_rounds:
                attempts[rid], errors[rid] = reply, reason
                retry.append({**req, "known_names": known_names + sorted(tried - set(known_names))})
            else:
                final[rid] = status
        log.info("scientist round %d: %d replies, %d valid, %d admitted, %d sent back for reflection",
                 rnd, len(replies), len(ok), sum(1 for p in proposals if p["round"] == rnd and p["status"] == "admitted"),
                 len(retry))
        pending = retry

    outcome = conclude_adaptation(
        generation, [(t.task_id, t.created_generation) for t in active.families], plan,
        [Admission(ad["task"].task_id, ad["task"].name, ad["request"]["operation"],
                   ad["request"]["parent"]["task_id"]) for ad in admitted],
        final, sum(1 for p in proposals if p["round"] > 0), streaks, a.drop_unsolved_after, a.parents, min_pool,
        a.pool_cap)
    new_tasks = TaskSet(families=tuple(ad["task"] for ad in admitted))
    reference_rows = []
    if new_tasks:
        reference_rows = [r for answers in each(evaluate_model, [
            {"run_dir": run_dir, "model_id": m, "task_set": new_tasks.hash, "tasks": new_tasks}
            for m in reference_ids])
            for r in answers]
    families, instances = task_rows(new_tasks, generation)
    for f in families:
        f["active"] = f["task_id"] not in outcome.deactivate
    stats = outcome.stats
    log.info("task adaptation: %s", json.dumps(stats))
    return TaskChanges(
        task_families=families, task_instances=instances,
        task_embeddings=[ad["embedding"] for ad in admitted], task_proposals=proposals,
        task_events=outcome.events,
        evaluations=[r for ad in admitted for r in ad["evaluations"]] + reference_rows,
        deactivate=outcome.deactivate, stats=stats,
    )
