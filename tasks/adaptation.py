"""Steps of task adaptation: ask the scientist, validate, filter for novelty, embed, measure
the task archive's diversity.  Each is thin: core functions do the deciding."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
from prefect import get_run_logger, task

from acdc_core.adapters.chat import make_scientist
from acdc_core.adapters.embedding import embed, task_text
from acdc_core.diversity import clusters, vendi
from acdc_core.novelty import novel_mask
from acdc_core.scientist import TaskRequest
from acdc_core.scientist.replies import extract_code
from acdc_core.taskfamily import TaskFamily, TaskFamilyError, TaskSet, family_from_code
from acdc_core.validation import validate_family
from tasks.context import RunContext, cache_key, local_chat, retry_unless_bad_input

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
                     known_names: list[str]) -> list[dict]:
    """Check each reply's family (see :func:`acdc_core.validation.validate_family`).

    Returns per reply {"error": str | None, "task": the :class:`TaskFamily` with its instances
    (None unless valid), "task_id", "name"} (the last two when the code could be read).
    """
    ctx = RunContext.load(run_dir)
    cfg = ctx.config
    sandbox = ctx.sandbox()
    ids, names = set(known_ids), set(known_names)
    out = []
    for reply, req in zip(replies, requests):
        result: dict = {"error": None, "task": None, "task_id": None, "name": None}
        try:
            code = extract_code(reply)
            parsed = family_from_code(code)
            result.update(task_id=parsed.task_id, name=parsed.name)
            fam = validate_family(
                code, sandbox, origin=req["operation"], parent_id=req["parent"]["task_id"], known_ids=ids,
                known_names=names, max_instances=cfg.evaluation.instances_per_task,
                min_instances=min(cfg.adaptation.min_instances, cfg.evaluation.instances_per_task),
                judge_available=cfg.judge.backend != "none",
            )
        except TaskFamilyError as exc:
            result["error"] = str(exc)
        else:
            ids.add(fam.task_id)
            names.add(fam.name)
            result["task"] = fam
        out.append(result)
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
                   history: list[dict]) -> list[dict]:
    """The novelty filter over candidates in order: novel operations must be at most
    ``novelty.max_similarity`` cosine-similar to their nearest task of the whole history
    (``history``: [{"task_id", "code", "embedding"}]) and, with an LLM scientist that has an
    opinion, "interestingly new" next to their ``k_nearest`` tasks.

    Returns per candidate {"status": None | "not_novel" | "not_interesting", "reason",
    "max_similarity", "nearest_ids"}.
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
    return out


@task(name="task-diversity")
def task_diversity(run_dir: str, generation: int, embeddings: dict[str, list[float]], active_ids: list[str]) -> dict:
    """Vendi scores of the active pool and the whole history, and HDBSCAN clusters of the
    history.  Returns {"metrics": {name: value}, "clusters": task_clusters rows}."""
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
    return {"metrics": metrics,
            "clusters": [{"generation": generation, "task_id": t, "cluster": int(label)} for t, label in zip(ids, labels)]}
