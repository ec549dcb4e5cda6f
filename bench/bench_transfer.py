"""Do the run's gains transfer?  Arms x run seeds on one budget, measured on held-out instances.

    .venv/bin/python bench/bench_transfer.py --arms default,aware --seeds 0 1 2 --generations 10
    .venv/bin/python bench/bench_transfer.py --report-only          # the table from what has run

Each (arm, seed) is a run folder ``--out/<arm>-s<seed>``: the default preset with the arm's
switches, ``run.seed`` = seed and ``--generations``; then ``acdc transfer`` (every model ever
archived and every seed answers what it has not, the best seed answers each held-out instance
``--samples`` times at T=0.7).  Everything resumes: a finished run is not rerun, stored answers
are reused, so a long bench can be run in parts (``--arms``/``--seeds`` pick the part).

Printed, and written to ``--out/transfer.md`` and ``--out/transfer.json``:

- per arm and set (task forces N=3 and N=8 chosen on the history, as the paper chooses; the
  same anchored on the seeds; chosen on held-out halves, cross-fitted; the seeds; the best seed
  sampled N times; the final archive; every model ever archived): held-out coverage, mean and
  95% Student-t interval over the seeds, and history coverage for contrast;
- per arm, the paired differences over seeds: task force 8 minus the seeds and minus the best
  seed sampled 8 times (the issue's bar: >= +0.05 and >= 0);
- per arm, the loop's held-out coverage of the archive and of the seeds at the first and last
  generation (does it rise?), the share of "found by a child" that survives the parents'
  resampling, and the run's minutes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import duckdb
import yaml

from acdc_core.transfer import mean_interval

ARMS = {  # levers of issue 29, each a config switch on the default preset
    "default": {},
    "aware": {"noise": {"aware_selection": True}},  # children credited only with finds parents don't reach
    "instances6": {"evaluation": {"instances_per_task": 6}},  # twice the skill resolution
    "robust": {"evaluation": {"instances_per_task": 6, "skill_granularity": "family"}},  # solved on >= 3 of 6
    "population": {"population": {"archive_size": 16, "children_per_generation": 8}},  # the reference's
}
SETS = ["task_force_3", "task_force_8", "task_force_seeded_8", "task_force_heldout_8", "top_fitness_8", "seeds",
        "best_seed", "best_seed_sampled_3", "best_seed_sampled_8", "archive_final", "ever_archived"]


def merged(base: dict, switch: dict) -> dict:
    """``base`` with the sections of ``switch`` updated key by key."""
    return {**base, **{k: {**base.get(k, {}), **v} for k, v in switch.items()}}


def acdc(*argv: str) -> None:
    exe = Path(sys.executable).with_name("acdc")
    cmd = [str(exe) if exe.exists() else shutil.which("acdc") or "acdc", *argv]
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def run_arm(out: Path, arm: str, seed: int, generations: int, samples: int) -> Path:
    """Run (or resume) one arm on one seed and its transfer check; returns the run folder."""
    base = yaml.safe_load(resources.files("acdc_core.presets").joinpath("default.yaml").read_text())
    cfg = merged(base, ARMS[arm])
    cfg["run"] = {**cfg["run"], "name": f"{arm}-s{seed}", "seed": seed, "generations": generations}
    run_dir = out / f"{arm}-s{seed}"
    path = out / f"{arm}-s{seed}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    acdc("run", "--config", str(path), "--run-dir", str(run_dir))
    acdc("transfer", "--run-dir", str(run_dir), "--samples", str(samples))
    return run_dir


def measure(run_dir: Path) -> dict | None:
    """What one finished run says: its transfer_results after the last generation, the loop's
    held-out metrics at the first and last generation, the noise floor, its minutes."""
    db = run_dir / "acdc.duckdb"
    if not db.exists():
        return None
    con = duckdb.connect(str(db), read_only=True)
    try:
        last = con.execute("SELECT max(generation) FROM transfer_results").fetchall()[0][0]
        if last is None:
            return None
        sets = {r[0]: {"heldout": r[1], "history": r[2], "n": r[3]} for r in con.execute(
            "SELECT set_name, coverage_heldout, coverage_history, n FROM transfer_results WHERE generation = ?",
            [last]).fetchall()}
        metric = dict(con.execute(
            "SELECT generation || ':' || name, value FROM metrics WHERE name IN "
            "('coverage_heldout', 'coverage_heldout_seeds', 'coverage_history', 'coverage_history_seeds')"
        ).fetchall())
        survive = con.execute("SELECT avg((parent_solved = 0)::INTEGER), count(*) FROM noise_floor").fetchall()[0]
        minutes = con.execute("SELECT sum(seconds) / 60 FROM generations").fetchall()[0][0]
        n_held = con.execute("SELECT max(n_heldout) FROM transfer_results WHERE generation = ?",
                             [last]).fetchall()[0][0]
    finally:
        con.close()
    return {"generation": last, "sets": sets, "n_heldout": n_held, "minutes": minutes,
            "survive_share": survive[0], "finds": survive[1],
            "loop": {f"{when}:{k}": metric.get(f"{g}:{k}") for when, g in (("first", 0), ("last", last)) for k in
                     ("coverage_heldout", "coverage_heldout_seeds", "coverage_history", "coverage_history_seeds")}}


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def _fmt(values: list[float]) -> str:
    if not values:
        return "-"
    m, lo, hi = mean_interval(values)
    return f"{m:.3f}" if len(values) == 1 else f"{m:.3f} [{lo:.3f}, {hi:.3f}]"


def report(results: dict[str, dict[int, dict]]) -> str:
    """The bench's markdown tables from {arm: {seed: measure(...)}}."""
    lines = ["## Held-out coverage by set (mean [95% t-interval] over seeds; history coverage for contrast)", "",
             "| arm | seeds | set | held-out | history |", "|---|---|---|---|---|"]
    for arm, by_seed in results.items():
        for s in SETS:
            found = [r["sets"][s] for r in by_seed.values() if s in r["sets"]]
            held = [f["heldout"] for f in found]
            hist = [f["history"] for f in found if f["history"] is not None]
            if held:
                lines.append(f"| {arm} | {len(held)} | {s} | {_fmt(held)} | {_fmt(hist)} |")
    lines += ["", "## Task force of 8 against the bar (paired over seeds)", "",
              "| arm | seeds | TF8 - seeds | TF8 - best seed x8 | seeded TF8 - seeds | seeded TF8 - best seed x8 |",
              "|---|---|---|---|---|---|"]
    for arm, by_seed in results.items():
        need = {"task_force_8", "task_force_seeded_8", "seeds", "best_seed_sampled_8"}
        runs = [r["sets"] for r in by_seed.values() if need <= set(r["sets"])]
        cells = [_fmt([r[a]["heldout"] - r[b]["heldout"] for r in runs])
                 for a in ("task_force_8", "task_force_seeded_8") for b in ("seeds", "best_seed_sampled_8")]
        lines.append(f"| {arm} | {len(runs)} | " + " | ".join(cells) + " |")
    lines += ["", "## The loop: archive vs seeds per run, first and last generation; noise floor; cost", "",
              "| arm | seed | gens | held-out n | archive held-out g0 -> last | seeds held-out g0 -> last | "
              "archive history last | seeds history last | finds surviving resampling | minutes |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for arm, by_seed in results.items():
        for seed, r in sorted(by_seed.items()):
            lp = r["loop"]
            survive = "-" if r["survive_share"] is None else f"{r['survive_share']:.2f} of {r['finds']}"
            lines.append(
                f"| {arm} | {seed} | {r['generation']} | {r['n_heldout']} | {_num(lp['first:coverage_heldout'])} -> "
                f"{_num(lp['last:coverage_heldout'])} | {_num(lp['first:coverage_heldout_seeds'])} -> "
                f"{_num(lp['last:coverage_heldout_seeds'])} | {_num(lp['last:coverage_history'])} | "
                f"{_num(lp['last:coverage_history_seeds'])} | {survive} | {r['minutes']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("runs/transfer"))
    p.add_argument("--arms", default="default,aware", help=f"comma-separated, of {sorted(ARMS)}")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--generations", type=int, default=10)
    p.add_argument("--samples", type=int, default=8, help="samples of the best seed per held-out instance")
    p.add_argument("--report-only", action="store_true", help="print the tables from the runs already there")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    arms = args.arms.split(",")
    unknown = sorted(set(arms) - set(ARMS))
    if unknown:
        p.error(f"unknown arms {unknown}; known: {sorted(ARMS)}")
    if not args.report_only:
        for seed in args.seeds:  # seed-major: a bench stopped early has every arm on the first seeds
            for arm in arms:
                run_arm(args.out, arm, seed, args.generations, args.samples)
    results: dict[str, dict[int, dict]] = {}
    for arm in ARMS:
        for folder in sorted(args.out.glob(f"{arm}-s*")):
            if folder.is_dir() and (m := measure(folder)) is not None:
                results.setdefault(arm, {})[int(folder.name.rsplit("-s", 1)[1])] = m
    text = report(results)
    print(text)
    (args.out / "transfer.md").write_text(text + "\n")
    (args.out / "transfer.json").write_text(json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
    main()
