"""Build the default family's seed experts from scratch and measure what they are worth.

    .venv/bin/python bench/bench_seed_experts.py [--family smollm2] [--held-out 100]

1. ``acdc seeds build`` in a fresh run folder with an empty cache (timed as a user sees it).
2. The base, every expert, and merges of the first two experts (mergekit linear and ties),
   evaluated side by side in this one run on: held-out items of each expert skill (same
   generators, another seed, disjoint from all training items) and all instances of the 22
   seed task families.
3. Printed: pass rates and differences to the base, skill vectors on the seed families, and
   the items a merge solves that neither parent solves.  Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from acdc_core.backends.hf import HFBackend
from acdc_core.config import EvaluationSection, load_config
from acdc_core.evaluation import evaluate
from acdc_core.expert_data import SKILLS, held_out, score_response, training_items
from acdc_core.merging import merge_models
from acdc_core.recipes import MergeRecipe
from acdc_core.sandbox import Sandbox
from acdc_core.skills import skill_matrix, skill_vector
from acdc_core.taskfamily import seed_families
from storage.db import RunDB


def solved_items(path: str, held: dict, tasks: list[dict], ev: EvaluationSection, threads: int) -> dict[str, float]:
    """item key -> score for every held-out item and every seed-family instance."""
    backend = HFBackend(path, batch_size=ev.batch_size, torch_threads=threads)
    try:
        out = {}
        for skill, items in held.items():
            gens = backend.generate([ev.prompt_template.format(instructions=i.instructions) for i in items],
                                    ev.max_new_tokens)
            out |= {f"{skill}:{k}": score_response(i, g.text) for k, (i, g) in enumerate(zip(items, gens))}
        for row in evaluate(backend, tasks, Sandbox(), ev.prompt_template, ev.max_new_tokens):
            out[f"seed:{row['task_id']}:{row['instance_id']}"] = row["score"]
    finally:
        backend.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", default="smollm2")
    ap.add_argument("--held-out", type=int, default=100, help="held-out items per expert skill")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="acdc-bench-experts-"))
    cfg = load_config().model_dump(mode="json")
    cfg["models"]["family"] = args.family
    (work / "config.yaml").write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "ACDC_CACHE_DIR": str(work / "cache")}

    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "flows.cli", "seeds", "build", "--config", str(work / "config.yaml"),
                    "--run-dir", str(work / "run")], check=True, env=env)
    wall = time.perf_counter() - t0
    db = RunDB(work / "run" / "acdc.duckdb")
    experts = db.seed_experts()
    base_dir = str(work / "run" / "blobs" / "models" / experts.base_model_id.iloc[0])
    print(f"\n== build ({args.family}): acdc seeds build wall {wall:.0f} s (GGUF conversion included); per expert:")
    for r in experts.itertuples():
        print(f"   {r.name:6s} {r.skill:5s} {len(r.loss_curve)} steps  loss {r.loss_curve[0]:.3f} -> "
              f"{r.loss_curve[-1]:.3f}  {r.train_seconds:.0f} s (replay answers + training + save)")
    print(f"   experts total: {experts.train_seconds.sum():.0f} s")

    # held-out items: another seed, disjoint from every item any expert trained on (own or replay)
    ev = EvaluationSection(batch_size=96)
    used = {s: [] for s in SKILLS}
    for r in experts.itertuples():
        rec = json.loads(r.recipe)["data"]
        own, replay = training_items(r.skill, rec["examples"], rec["replay_share"], rec["seed"])
        for item in own + replay:
            used[item.skill].append(item)
    held = {s: held_out(s, args.held_out, used[s]) for s in SKILLS}
    for s in SKILLS:
        assert not {i.instructions for i in held[s]} & {i.instructions for i in used[s]}
    sandbox = Sandbox()
    tasks = [{"task_id": f.name, "name": f.name, "code": f.code, "capability": f.capability,
              "instances": sandbox.instances(f.code, 8)} for f in seed_families()]
    print(f"held-out: {args.held_out} items per skill {list(SKILLS)}; seed families: {len(tasks)} x 8 instances")

    dirs = {"base": base_dir} | {r.name: str(work / "run" / "blobs" / "models" / r.model_id) for r in experts.itertuples()}
    a, b = list(experts.name)[:2]
    for method, recipe in (("linear", MergeRecipe(method="linear", parents=(a, b), weights=(0.5, 0.5))),
                           ("ties", MergeRecipe(method="ties", parents=(a, b), weights=(0.5, 0.5), density=0.5, base="base"))):
        merge_models(recipe, dirs, work / f"merge-{method}", "bfloat16")
        dirs[f"{method}({a},{b})"] = str(work / f"merge-{method}")

    scores = {}
    for name, path in dirs.items():
        t = time.perf_counter()
        scores[name] = solved_items(path, held, tasks, ev, args.threads)
        print(f"evaluated {name} in {time.perf_counter() - t:.0f} s")

    caps = sorted({t["capability"] for t in tasks})
    def rate(name: str, prefix: str) -> float:
        vals = [v for k, v in scores[name].items() if k.startswith(prefix)]
        return 100 * float(np.mean(vals))
    cap_of = {t["task_id"]: t["capability"] for t in tasks}
    def cap_rate(name: str, cap: str) -> float:
        return 100 * float(np.mean([v for k, v in scores[name].items() if k.startswith("seed:") and cap_of[k.split(":")[1]] == cap]))

    cols = [f"held-out {s}" for s in SKILLS] + ["seed all"] + [f"seed {c}" for c in caps]
    print("\n== pass rate (%) and difference to the base, points")
    print(f"{'model':24s}" + "".join(f"{c:>18s}" for c in cols))
    def row(name: str) -> list[float]:
        return [rate(name, f"{s}:") for s in SKILLS] + [rate(name, "seed:")] + [cap_rate(name, c) for c in caps]
    base_vals = row("base")
    for name in scores:
        vals = row(name)
        print(f"{name:24s}" + "".join(f"{v:8.1f} ({v - bv:+6.1f})  " for v, bv in zip(vals, base_vals)))

    print("\n== skill vectors on the seed families (solved = mean score >= 0.5)")
    names = list(scores)
    rows = [(n, k.split(":")[1], v) for n in names for k, v in scores[n].items() if k.startswith("seed:")]
    matrix = skill_vector(skill_matrix(rows, names, [t["task_id"] for t in tasks]))
    vectors = {n: "".join(map(str, matrix[i])) for i, n in enumerate(names)}
    for name, vec in vectors.items():
        print(f"  {name:24s} {vec}  ({vec.count('1')} solved)")
    same = [(x, y) for i, x in enumerate(names) for y in names[i + 1:] if vectors[x] == vectors[y]]
    print(f"  identical pairs: {same or 'none'}")

    print("\n== items a merge solves that neither parent solves (held-out + seed instances)")
    for merged in [n for n in names if "(" in n]:
        only = [k for k, v in scores[merged].items() if v >= 1.0 and scores[a][k] < 1.0 and scores[b][k] < 1.0]
        lost = [k for k in scores[merged] if scores[merged][k] < 1.0 and (scores[a][k] >= 1.0 or scores[b][k] >= 1.0)]
        print(f"  {merged}: {len(only)} new items (e.g. {only[:4]}), {len(lost)} items of a parent lost")
    union = sum(1 for k in scores["base"] if any(scores[n][k] >= 1.0 for n in names))
    print(f"  items solved by at least one model: {union} of {len(scores['base'])}")


if __name__ == "__main__":
    main()
