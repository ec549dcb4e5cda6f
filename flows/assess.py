"""``acdc assess``: how good is the run?  Global skill vectors, task forces and baselines chosen
on the synthetic pool, real benchmarks through lm-eval, coverage with confidence intervals,
p-values and best-of-N, all written to the run's DuckDB file (schema 004)."""

from __future__ import annotations

from prefect import flow, get_run_logger

from acdc_core.assessment.results import coverage_by_set
from acdc_core.assessment.selection import reference_set, sampled_members
from tasks.assessment import (
    assessed_pool,
    assessment_results,
    assessment_sets,
    benchmark_model,
    fill_global_skills,
    model_folders,
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
    pairs = fill_global_skills(run_dir, ctx, measured.pool_ids, measured.generation)
    log.info("global skill vectors: %d models over the task history (%d pairs evaluated now)",
             len(measured.pool_ids), pairs)
    sets = assessment_sets(ctx, measured.pool_ids, measured.seed_ids)
    references = [reference_model(run_dir, r.name, r.path, r.family) for r in a.reference_models]
    sets += [reference_set(r.model_id, r.name) for r in references]
    paths = model_folders(ctx, sets, references)
    items = prepare_benchmarks(run_dir)
    if a.answers_from:
        reuse_answers(run_dir, list(paths), items)
    samples = sampled_members(sets)
    for m in paths:
        benchmark_model(run_dir, m, paths[m], items, samples=samples.get(m, 0))
    results = assessment_results(ctx, sets, items, list(paths))
    save_assessment(ctx, measured.generation, sets, results)
    return {"generation": measured.generation, "pairs_evaluated": pairs, "sets": sets,
            "coverage": coverage_by_set(results)}
