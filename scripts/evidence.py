"""AC/DC's claim tested on this machine: the default run and its ablations on one budget, each
assessed on real benchmarks against every baseline, printed side by side.

    .venv/bin/python scripts/evidence.py                       # 10 generations, 200 items
    .venv/bin/python scripts/evidence.py --generations 2 --items 20 --code-items 10   # a quick look

Each arm is a run folder under ``--out`` (the default preset, or ``--config``, with one ablation
switch from the README's table), then ``acdc assess`` on ``--items`` items of each
multiple-choice benchmark (ARC-Easy, PIQA, BoolQ, MMLU), ``--gen-items`` of GSM8K and
``--code-items`` of HumanEval and MBPP (programs run in the sandbox).  Everything resumes: run it
again after a crash and finished runs and stored answers are reused.  Prints, per arm and
benchmark, the coverage of the N=3 and N=8 greedy task forces and of every baseline with 95%
intervals and Holm-adjusted p-values (task force beats baseline), then each arm's coverage of
its whole task history per generation next to its seeds'.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import duckdb
import yaml

ARMS = {  # the README's ablation switches
    "default": {},
    "frozen_pool": {"adaptation": {"every": 0}},
    "top_fitness": {"archive": {"selection": "top_fitness"}},
    "merge_only": {"mutation": {"method": "none"}},
    "mutation_only": {"crossover": {"rate": 0}},
}
MC, GEN, CODE = ["arc_easy", "piqa", "boolq", "mmlu_rc"], ["gsm8k"], ["humaneval", "mbpp"]


def merged(base: dict, switch: dict) -> dict:
    """``base`` with the sections of ``switch`` updated key by key."""
    return {**base, **{k: {**base.get(k, {}), **v} for k, v in switch.items()}}


def arm_config(base: dict, arm: str, args: argparse.Namespace) -> dict:
    cfg = merged(base, ARMS[arm])
    cfg["run"] = {**cfg.get("run", {}), "name": arm, "generations": args.generations}
    limits = {**{b: args.gen_items for b in GEN}, **{b: args.code_items for b in CODE}}
    cfg["assessment"] = {**cfg.get("assessment", {}), "benchmarks": MC + GEN + CODE, "limit": args.items,
                         "limits": limits}
    return cfg


def acdc(*argv: str) -> None:
    exe = Path(sys.executable).with_name("acdc")
    cmd = [str(exe) if exe.exists() else shutil.which("acdc") or "acdc", *argv]
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def coverage_table(run_dir: Path) -> list[tuple]:
    """(set, benchmark, coverage, ci_low, ci_high, p_holm, n_items) of the run's latest
    assessment, task forces first."""
    con = duckdb.connect(str(run_dir / "acdc.duckdb"), read_only=True)
    try:
        return con.execute("""
            SELECT set_name, benchmark, value, ci_low, ci_high, p_holm, n_items FROM assessment_results
            WHERE metric = 'coverage' AND generation = (SELECT max(generation) FROM assessment_results)
              AND set_name <> 'task_pool'
            ORDER BY benchmark = 'all' DESC, benchmark, NOT starts_with(set_name, 'task_force_greedy'), set_name
        """).fetchall()
    finally:
        con.close()


def history_curve(run_dir: Path) -> list[tuple]:
    """(generation, coverage_history, coverage_history_seeds) of a run, from its metrics."""
    con = duckdb.connect(str(run_dir / "acdc.duckdb"), read_only=True)
    try:
        return con.execute("""
            SELECT generation, max(value) FILTER (WHERE name = 'coverage_history'),
                   max(value) FILTER (WHERE name = 'coverage_history_seeds')
            FROM metrics GROUP BY 1 ORDER BY 1""").fetchall()
    finally:
        con.close()


def fmt(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def report(out: Path, arms: list[str]) -> str:
    lines = ["| arm | benchmark | set | coverage | 95% CI | p (Holm) | items |", "|---|---|---|---|---|---|---|"]
    for arm in arms:
        for s, b, v, lo, hi, p, n in coverage_table(out / arm):
            lines.append(f"| {arm} | {b} | {s} | {fmt(v)} | {fmt(lo)}-{fmt(hi)} | {fmt(p, 4)} | {n} |")
    lines += ["", "Coverage of the whole task history per generation (archive / seeds):", ""]
    curves = {arm: history_curve(out / arm) for arm in arms}
    lines += ["| generation | " + " | ".join(arms) + " |", "|---" * (len(arms) + 1) + "|"]
    for g in sorted({row[0] for c in curves.values() for row in c}):
        cells = []
        for arm in arms:
            row = next((r for r in curves[arm] if r[0] == g), None)
            cells.append(f"{fmt(row[1], 2)} / {fmt(row[2], 2)}" if row else "")
        lines.append(f"| {g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("runs/evidence"))
    ap.add_argument("--config", type=Path, help="base config (default: the embedded default preset)")
    ap.add_argument("--arms", default="default,frozen_pool,top_fitness", help=f"comma-separated, of {sorted(ARMS)}")
    ap.add_argument("--generations", type=int, default=10)
    ap.add_argument("--items", type=int, default=200, help="items per multiple-choice benchmark")
    ap.add_argument("--gen-items", type=int, default=100, help="GSM8K items")
    ap.add_argument("--code-items", type=int, default=100, help="HumanEval and MBPP items")
    args = ap.parse_args(argv)
    arms = args.arms.split(",")
    if unknown := [a for a in arms if a not in ARMS]:
        ap.error(f"unknown arms {unknown}; known: {sorted(ARMS)}")
    text = args.config.read_text() if args.config else \
        resources.files("acdc_core.presets").joinpath("default.yaml").read_text()
    base = yaml.safe_load(text) or {}
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for arm in arms:
        cfg_path = args.out / f"{arm}.yaml"
        cfg_path.write_text(yaml.safe_dump(arm_config(base, arm, args), sort_keys=False))
        run_dir = args.out / arm
        acdc("run", "--run-dir", str(run_dir), *([] if (run_dir / "acdc.duckdb").exists() else
                                                   ["--config", str(cfg_path)]))
        acdc("assess", "--run-dir", str(run_dir))
    table = report(args.out, arms)
    (args.out / "evidence.md").write_text(table + "\n")
    print(table)
    print(f"\nwall time {time.perf_counter() - t0:.0f} s; written to {args.out / 'evidence.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
