"""One task adaptation of a real run, with the archive's models resident against reloaded, side by side.

    .venv/bin/python bench/bench_resident_models.py --run-dir runs/cached [--rounds 3]

The run's DuckDB file and config are copied twice (each copy gets a new run id, so Prefect's
result cache serves neither; both read the original's blob store).  Each copy runs the same
adaptation subflow (``flows.adaptation.adapt_tasks``) after the run's last generation, with
``--rounds`` reflection rounds: once with ``evaluation.resident_gb: 0`` (every archive model is
loaded for every round, as before the pool) and once with the pool (each loaded once), starting
empty.  Printed: wall seconds, model loads and reuses, the ratio, and whether both adaptations
produced the same proposals and the same evaluation rows.  Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import yaml

from acdc_core.adaptation import pass_rates
from acdc_core.steps import TaskChanges
from flows.adaptation import adapt_tasks
from storage import queries
from tasks.run_folder import CONFIG_FILE, DB_FILE, RUN_FILE, RunContext
from tasks.sessions import MODEL_POOL


def copy_run(src: Path, dst: Path, resident_gb: float, rounds: int) -> None:
    """``src``'s config and DuckDB file in ``dst`` under a new run id, reading ``src``'s blobs."""
    dst.mkdir(parents=True)
    shutil.copy(src / DB_FILE, dst / DB_FILE)
    cfg = yaml.safe_load((src / CONFIG_FILE).read_text())
    cfg["storage"]["blob_url"] = cfg["storage"].get("blob_url") or str(src.resolve() / "blobs")
    cfg["evaluation"]["resident_gb"] = resident_gb
    cfg["adaptation"]["reflection_rounds"] = rounds
    (dst / CONFIG_FILE).write_text(yaml.safe_dump(cfg))
    (dst / RUN_FILE).write_text(json.dumps({"run_id": uuid.uuid4().hex[:12]}))


def adapt(run_dir: Path) -> tuple[float, int, int, TaskChanges]:
    ctx = RunContext.load(run_dir)
    g = ctx.db.read(queries.last_generation)
    kept = ctx.db.read(queries.archive_ids, g)
    active = [t["task_id"] for t in ctx.db.read(queries.active_tasks)]
    e = ctx.config.evaluation
    rows = ctx.db.read(queries.all_scores, kept, active)
    rates = pass_rates(rows, kept, active, e.solved_threshold, e.skill_granularity)
    MODEL_POOL.clear()
    loads, hits = MODEL_POOL.loads, MODEL_POOL.hits
    t0 = time.perf_counter()
    out = adapt_tasks(str(run_dir), g + 1, kept, rates, [])
    seconds = time.perf_counter() - t0
    n = (MODEL_POOL.loads - loads, MODEL_POOL.hits - hits)
    MODEL_POOL.clear()
    return seconds, *n, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run-dir", required=True, type=Path)
    ap.add_argument("--rounds", type=int, default=3, help="reflection rounds of the adaptation")
    ap.add_argument("--resident-gb", type=float, default=6.0)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="acdc-bench-resident-"))
    results = {}
    for name, gb in (("reload per round", 0.0), ("resident", args.resident_gb)):
        copy = work / name.replace(" ", "-")
        copy_run(args.run_dir, copy, gb, args.rounds)
        results[name] = adapt(copy)
    ctx = RunContext.load(args.run_dir)
    print(f"\n== one task adaptation of {args.run_dir} after generation {ctx.db.read(queries.last_generation)}: "
          f"{len(ctx.db.read(queries.final_archive_ids))} archive models, {args.rounds} reflection rounds")
    print(f"{'setting':18s} {'seconds':>8s} {'loads':>6s} {'reuses':>7s} {'rounds':>7s} {'admitted':>9s}")
    for name, (sec, loads, hits, out) in results.items():
        rounds = 1 + max((p["round"] for p in out.task_proposals), default=0)
        print(f"{name:18s} {sec:8.1f} {loads:6d} {hits:7d} {rounds:7d} {out.stats['tasks_admitted']:9d}")
    (t_old, *_, old), (t_new, *_, new) = results.values()
    print(f"ratio (reload / resident): {t_old / t_new:.2f}x")

    def rows(out: TaskChanges) -> list[tuple]:
        return sorted((r["model_id"], r["task_id"], r["instance_id"], r["response"], r["score"])
                      for r in out.evaluations)

    def proposals(out: TaskChanges) -> list[tuple]:
        return [(p["request_id"], p["round"], p["status"], p["task_id"]) for p in out.task_proposals]

    print(f"same proposals: {proposals(old) == proposals(new)}; same evaluation rows: {rows(old) == rows(new)} "
          f"({len(rows(new))} rows)")


if __name__ == "__main__":
    main()
