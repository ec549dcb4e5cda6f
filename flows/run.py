"""The whole AC/DC run as one Prefect flow: generations chained, resumable at any point.

A re-run of the same ``run_dir`` continues after the last committed generation; inside an
interrupted generation, finished steps come back from Prefect's result cache.
"""

from __future__ import annotations

import time

from prefect import flow, get_run_logger

from flows.generation import generation_flow
from flows.runner import task_runner
from storage.queries import last_generation, open_run, run_headline
from tasks.progress import fmt_seconds
from tasks.run_folder import DB_FILE, RunContext, choose_config, init_run
from tasks.sessions import close_run_sessions


def target_generation(last: int | None, configured: int, more: int | None) -> int:
    """The last generation this invocation runs to: ``configured``, or ``more`` past the last
    committed one (generation 0, the initial population, counts as done first)."""
    if more is None:
        return configured
    return (0 if last is None else last) + more


def run_summary(run_dir: str) -> dict:
    """Where the run stands: generations done, archive (size, distinct skill vectors, best
    fitness), coverage of the whole task history and of the active pool (instances solved by
    >= 1 archive model), the seeds' coverage of the history and the history instances the archive
    solves and no seed does, the same on the held-out instances (never selected on), instances
    children found that their parents did not (summed over generations) and the share of those
    no parent reaches when re-sampled, tasks (active, ever, cumulative Vendi score, HDBSCAN clusters, share that
    discriminates), file locations.  Metrics a run older than them lacks are None.

    Raises:
        FileNotFoundError: ``run_dir`` holds no run.
    """
    ctx = RunContext.load(run_dir)
    with open_run(ctx.run_dir) as con:
        h = run_headline(con)
    m = h["metrics"]
    return {
        "run_dir": str(ctx.run_dir),
        "run_id": ctx.run_id,
        "generations_done": h["last_generation"],
        "generations_target": ctx.config.run.generations,
        "archive_size": h["archive_size"],
        "best_fitness": h["best_fitness"],
        "distinct_skill_vectors": m.get("distinct_skill_vectors"),
        "coverage_history": m.get("coverage_history"),
        "coverage_history_seeds": m.get("coverage_history_seeds"),
        "history_beyond_seeds": m.get("history_beyond_seeds"),
        "coverage_heldout": m.get("coverage_heldout"),
        "coverage_heldout_seeds": m.get("coverage_heldout_seeds"),
        "heldout_beyond_seeds": m.get("heldout_beyond_seeds"),
        "heldout_instances": m.get("heldout_instances"),
        "new_survive_share": h["new_survive_share"],
        "coverage_active": m.get("coverage_active"),
        "children_new_instances": h["children_new_instances"],
        "tasks": h["tasks_active"],
        "tasks_history": h["tasks_history"],
        "vendi_cumulative": m.get("vendi_cumulative"),
        "task_clusters": m.get("hdbscan_clusters"),
        "discriminating_share": m.get("discriminating_share"),
        "models_created": h["models_created"],
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
    last = ctx.db.read(last_generation)
    target = target_generation(last, cfg.run.generations, generations)
    if generations is not None and target != cfg.run.generations:
        ctx = init_run(run_dir, cfg.model_copy(update={"run": cfg.run.model_copy(update={"generations": target})}))
    start = 0 if last is None else last + 1
    if start > target:
        log.info("run %s already has generation %d of %d: nothing to do", ctx.run_dir, last, target)
    durations: list[float] = []
    try:
        with task_runner(cfg.runner) as runner:
            generation = generation_flow.with_options(task_runner=runner) if runner else generation_flow
            for g in range(start, target + 1):
                t0 = time.perf_counter()
                generation(str(ctx.run_dir), g)
                durations.append(time.perf_counter() - t0)
                left = target - g
                eta = sum(durations[1:] or durations) / len(durations[1:] or durations) * left
                log.info("generation %d/%d done in %s; ETA for the remaining %d: %s",
                         g, target, fmt_seconds(durations[-1]), left, fmt_seconds(eta))
    finally:
        close_run_sessions()  # the resident models of this run; the process may go on (tests, notebooks)
    return run_summary(str(ctx.run_dir))
