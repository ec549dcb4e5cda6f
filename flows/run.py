"""The whole AC/DC run as one Prefect flow: generations chained, resumable at any point.

A re-run of the same ``run_dir`` continues after the last committed generation; inside an
interrupted generation, finished steps come back from Prefect's result cache.
"""

from __future__ import annotations

import time

from prefect import flow, get_run_logger

from flows.generation import generation_flow
from tasks.context import DB_FILE, MODEL_POOL, RunContext, choose_config, init_run
from tasks.progress import fmt_seconds


def target_generation(last: int | None, configured: int, more: int | None) -> int:
    """The last generation this invocation runs to: ``configured``, or ``more`` past the last
    committed one (generation 0, the initial population, counts as done first)."""
    if more is None:
        return configured
    return (0 if last is None else last) + more


def run_summary(run_dir: str) -> dict:
    """Where the run stands: generations done, archive (size, distinct skill vectors, best
    fitness), coverage of the whole task history and of the active pool (instances solved by
    >= 1 archive model), instances children found that their parents did not (summed over
    generations), tasks (active, ever, cumulative Vendi score, HDBSCAN clusters, share that
    discriminates), file locations.  Metrics a run older than them lacks are None."""
    ctx = RunContext.load(run_dir)
    last = ctx.db.last_generation()
    with ctx.db.connect(read_only=True) as con:
        n_tasks = con.execute("SELECT count(*) FROM task_families WHERE active").fetchall()[0][0]
        n_models = con.execute("SELECT count(*) FROM models").fetchall()[0][0]
        best = con.execute(
            "SELECT max(fitness) FROM archive WHERE generation = ?", [last]
        ).fetchall()[0][0]
        n_history = con.execute("SELECT count(*) FROM task_families").fetchall()[0][0]
        task_metrics = dict(con.execute(
            "SELECT name, value FROM metrics WHERE generation = ? AND name IN "
            "('vendi_cumulative', 'hdbscan_clusters', 'discriminating_share', 'coverage_history', "
            "'coverage_active', 'distinct_skill_vectors')", [last]
        ).fetchall())
        new_instances = con.execute(
            "SELECT sum(value) FROM metrics WHERE name = 'children_new_instances'").fetchall()[0][0]
    return {
        "run_dir": str(ctx.run_dir),
        "run_id": ctx.run_id,
        "generations_done": last,
        "generations_target": ctx.config.run.generations,
        "archive_size": len(ctx.db.archive_ids(last)) if last is not None else 0,
        "best_fitness": best,
        "distinct_skill_vectors": task_metrics.get("distinct_skill_vectors"),
        "coverage_history": task_metrics.get("coverage_history"),
        "coverage_active": task_metrics.get("coverage_active"),
        "children_new_instances": new_instances,
        "tasks": n_tasks,
        "tasks_history": n_history,
        "vendi_cumulative": task_metrics.get("vendi_cumulative"),
        "task_clusters": task_metrics.get("hdbscan_clusters"),
        "discriminating_share": task_metrics.get("discriminating_share"),
        "models_created": n_models,
        "duckdb": str(ctx.run_dir / DB_FILE),
        "models_store": ctx.blobs.uri("models"),
    }


@flow(name="acdc-run", flow_run_name="acdc-run")
def acdc_run(
    run_dir: str = "runs/default",
    config_path: str | None = None,
    generations: int | None = None,
    fresh: bool = False,
) -> dict:
    """Start or resume the AC/DC run in ``run_dir``.

    Args:
        run_dir: folder of the run (DuckDB file, blob store, frozen config).
        config_path: YAML config; None resumes with the stored config, or the embedded default
            preset for a new run.
        generations: run this many generations past the last committed one; None runs until the
            config's ``run.generations``.
        fresh: delete ``run_dir`` first.

    Returns:
        The run summary (see ``run_summary``).
    """
    log = get_run_logger()
    cfg = choose_config(run_dir, config_path, fresh)
    ctx = init_run(run_dir, cfg, fresh=fresh)
    last = ctx.db.last_generation()
    target = target_generation(last, cfg.run.generations, generations)
    if generations is not None and target != cfg.run.generations:
        ctx = init_run(run_dir, cfg.model_copy(update={"run": cfg.run.model_copy(update={"generations": target})}))
    start = 0 if last is None else last + 1
    if start > target:
        log.info("run %s already has generation %d of %d: nothing to do", ctx.run_dir, last, target)
    durations: list[float] = []
    try:
        for g in range(start, target + 1):
            t0 = time.perf_counter()
            generation_flow(str(ctx.run_dir), g)
            durations.append(time.perf_counter() - t0)
            left = target - g
            eta = sum(durations[1:] or durations) / len(durations[1:] or durations) * left
            log.info("generation %d/%d done in %s; ETA for the remaining %d: %s",
                     g, target, fmt_seconds(durations[-1]), left, fmt_seconds(eta))
    finally:
        MODEL_POOL.clear()  # the resident models of this run; the process may go on (tests, notebooks)
    return run_summary(str(ctx.run_dir))
