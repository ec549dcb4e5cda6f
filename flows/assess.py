"""``acdc assess``: how good is the run?  Global skill vectors, task forces and baselines chosen
on the synthetic pool, real benchmarks through lm-eval, coverage with confidence intervals,
p-values and best-of-N, all written to the run's DuckDB file (schema 004)."""

from __future__ import annotations

from collections import defaultdict

from prefect import flow, get_run_logger

from acdc_core.assessment.results import benchmark_results, holm_adjusted, pooled_results
from tasks import sessions
from tasks.assessment import (
    assessed_pool,
    assessment_sets,
    benchmark_answers,
    benchmark_model,
    contamination_rows,
    fill_global_skills,
    prepare_benchmarks,
    reference_model,
    reuse_answers,
    save_assessment,
)
from tasks.run_folder import RunContext, upgrade_schema


@flow(name="acdc-assess", flow_run_name="assess")
def assess_flow(run_dir: str) -> dict:
    """Assess the run in ``run_dir`` after its last committed generation.

    Returns {"generation", "pairs_evaluated", "sets", "coverage": {set: {benchmark: value}}}.

    Raises:
        LookupError: when no generation is committed yet.
        acdc_core.adapters.benchmark_files.BenchmarkError: an unknown benchmark or a missing data package.
    """
    ctx = RunContext.load(run_dir)
    upgrade_schema(ctx)  # this writer adds the tables a run older than them lacks
    a, log = ctx.config.assessment, get_run_logger()
    measured = assessed_pool(ctx, "assess")
    generation, seed_ids, pool = measured.generation, measured.seed_ids, measured.pool_ids
    pairs = fill_global_skills(run_dir, ctx, pool, generation)
    log.info("global skill vectors: %d models over the task history (%d pairs evaluated now)", len(pool), pairs)
    sets = assessment_sets(ctx, pool, seed_ids)
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

    judge = sessions.judge(ctx, a.judge)
    judge_sets = {s["set_name"] for s in sets if s["kind"] == "task_force_greedy"}
    per_benchmark, oracles = {}, {}
    for name, spec in items.items():
        answers, questions = benchmark_answers(ctx, name, spec["kind"], spec["doc_ids"], list(paths))
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
    save_assessment(ctx, generation, sets, results)
    coverage = defaultdict(dict)
    for r in results:
        if r["metric"] == "coverage":
            coverage[r["set_name"]][r["benchmark"]] = r["value"]
    return {"generation": generation, "pairs_evaluated": pairs, "sets": sets, "coverage": dict(coverage)}
