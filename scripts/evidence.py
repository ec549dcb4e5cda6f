"""AC/DC's claim tested on this machine: the default run and its ablations on one budget, each
assessed on real benchmarks against every baseline, printed side by side.

    .venv/bin/python scripts/evidence.py                       # 10 generations, 200 items
    .venv/bin/python scripts/evidence.py --generations 2 --items 20 --code-items 10   # a quick look

Each arm is a run folder under ``--out`` (the default preset, or ``--config``, with one ablation
switch from the README's table), then ``acdc assess`` on ``--items`` items of each
multiple-choice benchmark (ARC-Easy, PIQA, BoolQ, MMLU), ``--gen-items`` of GSM8K and
``--code-items`` of HumanEval and MBPP (programs run in the sandbox).  Everything resumes: run it
again after a crash and finished runs and stored answers are reused.  Best-of-N runs majority
vote and self-certainty everywhere and the judge methods on ``--judge-benchmarks`` with a local
judge (``--judge``, default the largest shipped model, Gemma-3-270M, through the hf chat
backend).  Prints (and writes to ``--out``/evidence.md):

- per arm and benchmark, the coverage of the N=3 and N=8 greedy task forces and of every
  baseline, with 95% intervals and Holm-adjusted p-values (task force beats baseline);
- the ablation table: the arms' task forces and seeds side by side;
- best-of-N accuracy of the task forces next to their coverage (the oracle);
- each arm's coverage of its whole task history per generation next to its seeds', also drawn
  in ``history_by_arm.png``.
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
import pandas as pd
import yaml

from report.figures import plot_history_by_arm

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
    """The arm's run config: ``base`` with the arm's switch, the budget and the assessment of
    ``args``; models the arms share (seeds, references, the sampled best seed) answer once, in
    whichever arm is assessed first (``assessment.answers_from``), and the ablation arms are
    compared with ``args.ablation_baselines`` only (what the ablation table shows)."""
    cfg = merged(base, ARMS[arm])
    cfg["run"] = {**cfg.get("run", {}), "name": arm, "generations": args.generations}
    limits = {**{b: args.gen_items for b in GEN}, **{b: args.code_items for b in CODE}}
    judge = {"judge": {"backend": "none"}} if args.judge == "none" else {  # a judge stored earlier stays off too
        "judge": {"backend": "hf", "model": args.judge, "temperature": 0.0, "max_tokens": args.judge_tokens},
        "judge_benchmarks": args.judge_benchmarks.split(",")}
    benchmarks = args.benchmarks.split(",")
    others = [str((args.out / a).resolve()) for a in args.arms.split(",") if a != arm]
    cfg["assessment"] = {**cfg.get("assessment", {}), "benchmarks": benchmarks, "limit": args.items,
                         "limits": {b: n for b, n in limits.items() if b in benchmarks}, "answers_from": others, **judge}
    if arm != "default":
        cfg["assessment"]["baselines"] = [b for b in args.ablation_baselines.split(",") if b]
    return cfg


def acdc(*argv: str) -> None:
    exe = Path(sys.executable).with_name("acdc")
    cmd = [str(exe) if exe.exists() else shutil.which("acdc") or "acdc", *argv]
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def query(run_dir: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(run_dir / "acdc.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


_LATEST = "generation = (SELECT max(generation) FROM assessment_results)"


def coverage_table(run_dir: Path) -> list[tuple]:
    """(set, benchmark, coverage, ci_low, ci_high, p_holm, n_items) of the run's latest
    assessment, task forces first."""
    return query(run_dir, f"""
        SELECT set_name, benchmark, value, ci_low, ci_high, p_holm, n_items FROM assessment_results
        WHERE metric = 'coverage' AND {_LATEST} AND set_name <> 'task_pool'
        ORDER BY benchmark = 'all' DESC, benchmark, NOT starts_with(set_name, 'task_force_greedy'), set_name""")


def best_of_n_table(run_dir: Path) -> list[tuple]:
    """(set, benchmark, method, accuracy, oracle coverage) of the greedy task forces."""
    return query(run_dir, f"""
        SELECT r.set_name, r.benchmark, substr(r.metric, 5), r.value, o.value FROM assessment_results r
        JOIN assessment_results o ON o.set_name = r.set_name AND o.benchmark = r.benchmark
             AND o.generation = r.generation AND o.metric = 'coverage'
        WHERE starts_with(r.metric, 'bon_') AND starts_with(r.set_name, 'task_force_greedy') AND r.{_LATEST}
        ORDER BY r.benchmark, r.set_name, r.metric""")


def history_curve(run_dir: Path) -> list[tuple]:
    """(generation, coverage_history, coverage_history_seeds) of a run, from its metrics."""
    return query(run_dir, """
        SELECT generation, max(value) FILTER (WHERE name = 'coverage_history'),
               max(value) FILTER (WHERE name = 'coverage_history_seeds')
        FROM metrics GROUP BY 1 ORDER BY 1""")


def fmt(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def report(out: Path, arms: list[str]) -> str:
    """The evidence as markdown (the task force and every baseline per arm, the ablation table,
    best-of-N, the history curve), and ``history_by_arm.png`` in ``out``."""
    lines = []
    tables = {arm: coverage_table(out / arm) for arm in arms}
    for arm, rows in tables.items():
        lines += [f"### Arm {arm}: coverage (95% CI; p = task force N=8 beats the set, Holm-adjusted)", "",
                  "| benchmark | set | coverage | 95% CI | p (Holm) | items |", "|---|---|---|---|---|---|"]
        lines += [f"| {b} | {s} | {fmt(v)} | {fmt(lo)}-{fmt(hi)} | {fmt(p, 4)} | {n} |"
                  for s, b, v, lo, hi, p, n in rows]
        lines.append("")
    benches = sorted({r[1] for rows in tables.values() for r in rows} - {"all"}) + ["all"]
    lines += ["### Ablations: coverage of the greedy task forces (N=3 / N=8) and of the seed experts", "",
              "| arm | set | " + " | ".join(benches) + " |", "|---" * (len(benches) + 2) + "|"]
    for arm, rows in tables.items():
        cov = {(s, b): v for s, b, v, *_ in rows}
        for s in sorted({r[0] for r in rows if r[0].startswith("task_force_greedy")}) + ["seed_experts"]:
            lines.append(f"| {arm} | {s} | " + " | ".join(fmt(cov.get((s, b))) for b in benches) + " |")
    bon = {arm: best_of_n_table(out / arm) for arm in arms}
    lines += ["", "### Best-of-N accuracy of the greedy task forces (oracle = coverage)", "",
              "| arm | benchmark | set | method | accuracy | oracle |", "|---|---|---|---|---|---|"]
    lines += [f"| {arm} | {b} | {s} | {m} | {fmt(v)} | {fmt(o)} |" for arm, rows in bon.items() for s, b, m, v, o in rows]
    lines += ["", "### Coverage of the whole task history per generation (archive / seeds)", ""]
    curves = {arm: history_curve(out / arm) for arm in arms}
    lines += ["| generation | " + " | ".join(arms) + " |", "|---" * (len(arms) + 1) + "|"]
    for g in sorted({row[0] for c in curves.values() for row in c}):
        cells = []
        for arm in arms:
            row = next((r for r in curves[arm] if r[0] == g), None)
            cells.append(f"{fmt(row[1], 2)} / {fmt(row[2], 2)}" if row else "")
        lines.append(f"| {g} | " + " | ".join(cells) + " |")
    frame = pd.DataFrame([(arm, g, a, sd) for arm, c in curves.items() for g, a, sd in c],
                         columns=["arm", "generation", "archive", "seeds"])
    plot_history_by_arm(frame).savefig(out / "history_by_arm.png", dpi=130, bbox_inches="tight")
    lines += ["", "![coverage of the task history by arm](history_by_arm.png)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("runs/evidence"))
    ap.add_argument("--config", type=Path, help="base config (default: the embedded default preset)")
    ap.add_argument("--arms", default="default,frozen_pool,top_fitness", help=f"comma-separated, of {sorted(ARMS)}")
    ap.add_argument("--generations", type=int, default=10)
    ap.add_argument("--benchmarks", default=",".join(MC + GEN + CODE), help="comma-separated, of the default")
    ap.add_argument("--items", type=int, default=200, help="items per multiple-choice benchmark")
    ap.add_argument("--gen-items", type=int, default=100, help="GSM8K items")
    ap.add_argument("--code-items", type=int, default=100, help="HumanEval and MBPP items")
    ap.add_argument("--judge", default="gemma3",
                    help="best-of-N judge: a shipped family (gemma3: the largest shipped model) or a local chat-model "
                         "folder, through the hf chat backend; none: no judge methods")
    ap.add_argument("--judge-benchmarks", default="gsm8k", help="comma-separated benchmarks the judge methods run on")
    ap.add_argument("--judge-tokens", type=int, default=48, help="judge reply tokens at most")
    ap.add_argument("--ablation-baselines", default="best_seed_sampled,seed_experts",
                    help="comma-separated sets the ablation arms' task forces are compared with (assessment.baselines; "
                         "the default arm is compared with all)")
    args = ap.parse_args(argv)
    arms = args.arms.split(",")
    if unknown := [a for a in arms if a not in ARMS]:
        ap.error(f"unknown arms {unknown}; known: {sorted(ARMS)}")
    if unknown := [b for b in args.benchmarks.split(",") if b not in MC + GEN + CODE]:
        ap.error(f"unknown benchmarks {unknown}; known: {MC + GEN + CODE}")
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
        acdc("assess", "--run-dir", str(run_dir), "--config", str(cfg_path))
    table = report(args.out, arms)
    (args.out / "evidence.md").write_text(table + "\n")
    print(table)
    print(f"\nwall time {time.perf_counter() - t0:.0f} s; written to {args.out / 'evidence.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
