"""A long pico run: does a generation's cost stay flat as the run goes on?

    .venv/bin/python bench/bench_soak.py [--generations 30] [--out DIR] [--checkout DIR] \
        [--retired-sample all 4]

The tests' pico family (a base and two experts, archive 4, 3 children per generation, the
template scientist every 5th generation, so families retire and the task history grows) runs
``--generations`` generations with ``acdc run`` (the code of ``--checkout``, default this one; a
run in ``--out`` resumes), once per value of ``--retired-sample`` (``evaluation.retired_sample``;
``all``: null, every retired instance, the cost before it was bounded; default: the config's
default), one after the other in ``--out/sample-<value>``.  While a run goes, the flow
process's resident memory and the DuckDB file's size are sampled every 0.2 s; afterwards each
generation's window is taken from the ``generations`` table.  Printed per run and generation:
seconds, peak RSS (MB), DuckDB MB at its commit, families in the task history, evaluation rows so
far, retired instances in the history and the answers admitted children gave to retired
instances in that generation (with their seconds); then the least-squares slopes of seconds, RSS,
DuckDB size and those answers against the generation over the second half of the run (after the
start-up), and each slope as a share of its mean.  Nothing is asserted.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import yaml

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "tests" / "helpers"),
                str(Path(__file__).resolve().parents[1] / "tests")]
from helpers.runs import acdc_env, status_mb, three_seed_config, watch  # noqa: E402
from pico import build_family  # noqa: E402


def run_sampled(checkout: Path, config: Path, run_dir: Path, home: Path) -> list[tuple[float, float, float]]:
    """Run ``acdc run`` and sample (unix time, RSS MB of the flow process, DuckDB MB) until it ends.

    Raises:
        SystemExit: the run failed (its log's tail).
    """
    log, db = home / "run.log", run_dir / "acdc.duckdb"
    with open(log, "a") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "run", "--config", str(config), "--run-dir",
                                 str(run_dir)], cwd=checkout, env=dict(acdc_env(home), PYTHONPATH=str(checkout)),
                                stdout=fh, stderr=subprocess.STDOUT)
        samples = watch(proc, lambda status: (time.time(), status_mb(status, "VmRSS"),
                                              db.stat().st_size / 2**20 if db.exists() else 0.0), every=0.2)
    if proc.returncode:
        raise SystemExit(f"the run failed:\n{log.read_text()[-3000:]}")
    return samples


def per_generation(run_dir: Path, samples: list[tuple[float, float, float]]) -> list[dict]:
    """One row per committed generation: its seconds, the peak RSS sampled in its window (from the
    previous commit to its own), the DuckDB size at its commit, the task history and the rows."""
    with duckdb.connect(str(run_dir / "acdc.duckdb"), read_only=True) as con:
        gens = con.execute("SELECT generation, epoch(committed_at), seconds FROM generations ORDER BY 1").fetchall()
        history = dict(con.execute("SELECT g.generation, count(f.task_id) FROM generations g JOIN task_families f "
                                   "ON f.created_generation <= g.generation GROUP BY 1").fetchall())
        rows = dict(con.execute("SELECT g.generation, count(*) FROM generations g "
                                "JOIN evaluations e ON e.generation <= g.generation GROUP BY 1").fetchall())
        retired = {g: int(v) for g, v in con.execute(
            "SELECT generation, value FROM metrics WHERE name = 'history_retired'").fetchall()}
        asked = {g: (n, secs) for g, n, secs in con.execute(
            "SELECT e.generation, count(*), sum(e.seconds) FROM evaluations e JOIN task_families f USING (task_id) "
            "JOIN models m USING (model_id) WHERE f.retired_generation < e.generation "
            "AND m.created_generation = e.generation GROUP BY 1").fetchall()}
    out, t = [], np.array([s[0] for s in samples])
    for g, end, secs in gens:
        window = [s for s in samples if end - secs <= s[0] <= end + 1]
        at_commit = [s for s, ts in zip(samples, t) if ts >= end + 1]
        out.append({"generation": g, "seconds": secs,
                    "rss_mb": max((s[1] for s in window), default=float("nan")),
                    "duckdb_mb": at_commit[0][2] if at_commit else float("nan"),
                    "history": history.get(g, 0), "evaluations": rows.get(g, 0), "retired": retired.get(g, 0),
                    "asked": asked.get(g, (0, 0.0))[0], "asked_s": asked.get(g, (0, 0.0))[1]})
    return out


def slope(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """(least-squares slope, slope / mean of ys) over the finite points."""
    pts = [(x, y) for x, y in zip(xs, ys) if np.isfinite(y)]
    if len(pts) < 2:
        return float("nan"), float("nan")
    x, y = map(np.array, zip(*pts))
    s = float(np.polyfit(x, y, 1)[0])
    return s, s / float(np.mean(y))


def soak(a: argparse.Namespace, sample: str | None) -> None:
    """Run (or resume) the soak of one ``evaluation.retired_sample`` value and print its table."""
    out = a.out / f"sample-{sample or 'default'}"
    out.mkdir(parents=True, exist_ok=True)
    config = out / "config.yaml"
    if not config.exists():
        cfg = three_seed_config(build_family(a.out / "pico"), a.generations)
        if sample is not None:
            cfg["evaluation"]["retired_sample"] = None if sample == "all" else int(sample)
        config.write_text(yaml.safe_dump(cfg))
    run_dir = out / "run"
    rows = per_generation(run_dir, run_sampled(a.checkout.resolve(), config, run_dir, out))
    print(f"\nevaluation.retired_sample: {sample or 'default'}")
    print(f"{'gen':>4s} {'seconds':>8s} {'RSS MB':>7s} {'DuckDB MB':>9s} {'history':>7s} {'eval rows':>9s} "
          f"{'retired':>7s} {'asked':>5s} {'asked s':>7s}")
    for r in rows:
        print(f"{r['generation']:4d} {r['seconds']:8.1f} {r['rss_mb']:7.0f} {r['duckdb_mb']:9.1f} "
              f"{r['history']:7d} {r['evaluations']:9d} {r['retired']:7d} {r['asked']:5d} {r['asked_s']:7.2f}")
    late = rows[len(rows) // 2:]
    for key, unit in (("seconds", "s"), ("rss_mb", "MB"), ("duckdb_mb", "MB"), ("asked", "answers"),
                      ("asked_s", "s")):
        s, share = slope([r["generation"] for r in late], [r[key] for r in late])
        print(f"slope of {key} over generations {late[0]['generation']}-{late[-1]['generation']}: "
              f"{s:+.3f} {unit} per generation ({share:+.1%} of its mean)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--generations", type=int, default=30)
    p.add_argument("--out", type=Path, default=Path("/tmp/bench-soak"))
    p.add_argument("--checkout", type=Path, default=Path(__file__).resolve().parents[1])
    p.add_argument("--retired-sample", nargs="+", default=[None], metavar="K|all",
                   help="evaluation.retired_sample of each run ('all': null)")
    a = p.parse_args()
    for sample in a.retired_sample:
        soak(a, sample)


if __name__ == "__main__":
    main()
