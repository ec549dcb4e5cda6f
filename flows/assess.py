"""``acdc assess``: how good is the run?  Global skill vectors, task forces and baselines chosen
on the synthetic pool, real benchmarks through lm-eval, coverage with confidence intervals,
p-values and best-of-N, all written to the run's DuckDB file (schema 004)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from prefect import flow, get_run_logger

from acdc_core.adapters.decontamination import BenchmarkNgrams
from acdc_core.assessment.best_of_n import Candidate
from acdc_core.assessment.results import benchmark_results, holm_adjusted, pooled_results
from acdc_core.assessment.selection import choose_sets
from acdc_core.hashing import stable_hash
from acdc_core.skills import skill_table, skill_vector
from acdc_core.taskfamily import TaskSet
from storage.db import RunDB
from tasks.assessment import benchmark_model, prepare_benchmarks, reference_model, reuse_answers
from tasks.context import RunContext
from tasks.evaluation import evaluate_model


def fill_global_skills(run_dir: str, ctx: RunContext, model_ids: list[str], generation: int) -> int:
    """Evaluate every (model, task instance) pair of the history not evaluated yet; rows go to
    ``evaluations`` with ``source = 'assess'`` and the assessed ``generation``.  Returns the number of pairs evaluated."""
    missing = ctx.db.missing_pairs(model_ids)
    if not missing:
        return 0
    history = TaskSet.from_rows(ctx.db.task_families())
    by_model: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for m, t, i in missing:
        by_model[m][t].append(i)
    for m, by_task in by_model.items():
        tasks = history.only(by_task)
        rows = evaluate_model(run_dir, m, stable_hash(sorted(by_task.items())), tasks)
        ctx.db.insert_rows("evaluations", [{**r, "generation": generation, "source": "assess"} for r in rows])
    return len(missing)


def _answers(ctx: RunContext, name: str, kind: str, doc_ids: list[int], model_ids: list[str]) -> tuple[dict, list[str]]:
    """Answer table ({(model_id, sample): {doc_id: (correct, Candidate)}}) and the questions."""
    docs = ctx.db.benchmark_docs(name)
    df = ctx.db.benchmark_items(model_ids, name, doc_ids)
    answers: dict = defaultdict(dict)
    for r in df.itertuples():
        if kind == "mc":
            choices = docs.loc[r.doc_id, "choices"]
            text = choices[int(r.answer)] if choices is not None and int(r.answer) < len(choices) else r.answer
        else:
            text = r.response or ""
        conf = None if r.confidence is None or np.isnan(r.confidence) else float(r.confidence)
        answers[(r.model_id, int(r.sample))][int(r.doc_id)] = (bool(r.correct), Candidate(str(r.answer), text, conf))
    questions = []
    for d in doc_ids:
        q = docs.loc[d, "prompt"] if d in docs.index else ""
        if kind == "mc" and d in docs.index and docs.loc[d, "choices"] is not None:
            q += "\nOptions: " + " | ".join(docs.loc[d, "choices"])
        questions.append(q)
    return answers, questions


def contamination_rows(ctx: RunContext, items: dict[str, dict]) -> list[dict]:
    """Per benchmark, the share of assessed items sharing a word 13-gram with the task pool
    (every family's code and every instance ever admitted): ``set_name`` 'task_pool', metric
    'contaminated_items'.  A scientist LLM that writes benchmark questions from memory shows
    up here."""
    families = TaskSet.from_rows(ctx.db.task_families())
    pool = [f.code for f in families.families] + [i.instructions for _, _, i in families.instances()]
    grams = BenchmarkNgrams(pool)
    rows = []
    for name, spec in items.items():
        docs = ctx.db.benchmark_docs(name)
        texts = [docs.loc[d, "prompt"] for d in spec["doc_ids"] if d in docs.index]
        hits = grams.contaminated(texts)
        rows.append({"set_name": "task_pool", "benchmark": name, "metric": "contaminated_items",
                     "value": len(hits) / max(1, len(texts)), "ci_low": None, "ci_high": None, "p_value": None,
                     "n_items": len(texts)})
        if hits:
            get_run_logger().warning("%d of %d %s items share a 13-gram with the task pool", len(hits), len(texts), name)
    return rows


@flow(name="acdc-assess", flow_run_name="assess")
def assess_flow(run_dir: str) -> dict:
    """Assess the run in ``run_dir`` after its last committed generation.

    Returns {"generation", "pairs_evaluated", "sets", "coverage": {set: {benchmark: value}}}.

    Raises:
        LookupError: when no generation is committed yet.
        acdc_core.adapters.benchmark_files.BenchmarkError: an unknown benchmark or a missing data package.
    """
    ctx = RunContext.load(run_dir)
    RunDB.create(ctx.db.path)  # this writer adds the assessment tables to a run older than them
    a, log = ctx.config.assessment, get_run_logger()
    generation = ctx.db.last_generation()
    if generation is None:
        raise LookupError(f"{run_dir}: no generation committed yet, nothing to assess")
    models = ctx.db.models()
    seed_ids = models.loc[models["operator"] == "seed", "model_id"].tolist()
    pool = list(dict.fromkeys(ctx.db.ever_archived() + seed_ids))
    pairs = fill_global_skills(run_dir, ctx, pool, generation)
    task_ids = [t["task_id"] for t in ctx.db.task_history()]
    log.info("global skill vectors: %d models x %d tasks (%d pairs evaluated now)", len(pool), len(task_ids), pairs)

    e = ctx.config.evaluation
    scores, _ = skill_table(ctx.db.all_scores(pool, task_ids), pool, task_ids, e.skill_granularity)
    solved = skill_vector(scores, e.solved_threshold).astype(bool)
    sets = [s for s in choose_sets(pool, solved, scores.mean(axis=1), seed_ids, a.set_sizes,
                                   np.random.default_rng(a.seed), a.max_combinations)
            if s["kind"] == "task_force_greedy" or s["kind"] in a.baselines]
    paths = {m: str(ctx.model_dir(m)) for s in sets for m in s["members"]}
    for ref in a.reference_models:
        row = reference_model(run_dir, ref.name, ref.path, ref.family)
        paths[row["model_id"]] = row["path"]
        sets.append({"set_name": f"reference:{ref.name}", "kind": "reference", "n": 1,
                     "members": [row["model_id"]], "synthetic_coverage": None})

    items = prepare_benchmarks(run_dir)
    samples = defaultdict(int)
    for s in sets:
        if s["kind"] == "best_seed_sampled":
            samples[s["members"][0]] = max(samples[s["members"][0]], s["n"])
    if a.answers_from:
        reuse_answers(run_dir, list(paths), items)
    for m in paths:
        benchmark_model(run_dir, m, paths[m], items, samples=samples[m])

    judge = ctx.judge(a.judge)
    judge_sets = {s["set_name"] for s in sets if s["kind"] == "task_force_greedy"}
    per_benchmark, oracles = {}, {}
    for name, spec in items.items():
        answers, questions = _answers(ctx, name, spec["kind"], spec["doc_ids"], list(paths))
        judged = judge is not None and (a.judge_benchmarks is None or name in a.judge_benchmarks)
        per_benchmark[name], oracles[name] = benchmark_results(
            name, spec["doc_ids"], sets, answers, a.best_of_n, questions, judge.chat if judged else None,
            judge_sets, a.n_boot, a.seed,
        )
    if judge is None and any(m.startswith(("judge", "pairwise")) for m in a.best_of_n):
        log.info("best-of-N judge methods skipped: judge.backend is none")
    results = [r for rows in per_benchmark.values() for r in rows]
    results += pooled_results(per_benchmark, sets, oracles, a.n_boot, a.seed)
    results = holm_adjusted(results) + [{**r, "p_holm": None} for r in contamination_rows(ctx, items)]
    ctx.db.save_assessment(generation, [{**s, "generation": generation} for s in sets],
                           [{**r, "generation": generation} for r in results])
    coverage = defaultdict(dict)
    for r in results:
        if r["metric"] == "coverage":
            coverage[r["set_name"]][r["benchmark"]] = r["value"]
    return {"generation": generation, "pairs_evaluated": pairs, "sets": sets, "coverage": dict(coverage)}
