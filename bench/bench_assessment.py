"""The assessment's own costs on a finished run, side by side (reads the DuckDB file only).

    .venv/bin/python bench/bench_assessment.py --run-dir runs/gen10

Prints, measured in this one run: greedy vs exact (brute-force) task-force selection on the
run's global skill vectors (seconds and synthetic coverage) for N = 3 and 8; the bootstrap
statistics of one benchmark row; and, from the stored per-instance generation times, what
evaluating only the missing (model, task) pairs cost against re-evaluating every pair.
Nothing here is asserted: it is for the closing notes.
"""

from __future__ import annotations

import argparse
from math import comb

import duckdb
import numpy as np
from bench_cpu_steps import timed

from acdc_core.assessment.selection import coverage_of, exact_max_coverage, greedy_max_coverage
from acdc_core.assessment.statistics import bootstrap_indices, mean_ci, p_greater
from acdc_core.skills import skill_matrix, skill_vector


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--run-dir", default="runs/default")
    args = ap.parse_args()
    con = duckdb.connect(f"{args.run_dir}/acdc.duckdb", read_only=True)
    pool = [r[0] for r in con.execute(
        "SELECT model_id FROM archive GROUP BY 1 ORDER BY min(generation), model_id").fetchall()]
    tasks = [r[0] for r in con.execute("SELECT task_id FROM task_families ORDER BY task_id").fetchall()]
    rows = con.execute("SELECT model_id, task_id, score FROM evaluations").fetchall()
    solved = skill_vector(skill_matrix(rows, pool, tasks)).astype(bool)
    print(f"pool: {len(pool)} models ever archived x {len(tasks)} task families")
    for n in (3, 8):
        tg, greedy = timed(lambda: greedy_max_coverage(solved, n))
        te, exact = timed(lambda: exact_max_coverage(solved, n, max_combinations=10**7))
        cg, ce = coverage_of(solved, greedy), coverage_of(solved, exact)
        print(f"N={n}: greedy {tg * 1e3:.1f} ms coverage {cg:.3f} | exact over {comb(len(pool), n)} sets "
              f"{te:.2f} s coverage {ce:.3f} | time x{te / tg:.0f}, coverage ratio {cg / ce:.3f}")

    rng = np.random.default_rng(0)
    a, b = (rng.random(100) < 0.6).astype(float), (rng.random(100) < 0.5).astype(float)
    t, idx = timed(lambda: bootstrap_indices(100, 2000, rng))
    t2, _ = timed(lambda: (mean_ci(a, idx), p_greater(a, b, idx)))
    print(f"bootstrap, 100 items x 2000 resamples: draw {t * 1e3:.1f} ms, CI + p-value {t2 * 1e3:.1f} ms per row")

    by_run, by_assess, n_missing = con.execute(
        "SELECT sum(seconds) FILTER (WHERE source = 'run'), sum(seconds) FILTER (WHERE source = 'assess'), "
        "count(*) FILTER (WHERE source = 'assess') FROM evaluations WHERE list_contains(?, model_id)", [pool]).fetchall()[0]
    n_all = len(pool) * con.execute("SELECT count(*) FROM task_instances").fetchall()[0][0]
    per_pair = (by_run + by_assess) / max(1, n_all)
    print(f"global skill vectors: {n_missing} of {n_all} pairs were missing after the run; generating them "
          f"took {by_assess:.0f} s of generation time against ~{per_pair * n_all:.0f} s for every pair "
          f"(x{per_pair * n_all / max(by_assess, 1e-9):.1f})")

if __name__ == "__main__":
    main()
