"""Build a family's seed experts from scratch and measure what they are worth.

    .venv/bin/python bench/bench_seed_experts.py [--family smollm2] [--skills math,code,strings,lists]
                                                 [--held-out 60] [--steps 40] [--replay-share 0.3]
                                                 [--lr 1e-3] [--lora-layers 6] [--delta-scales 0.6]

1. ``acdc seeds build`` in a fresh run folder with an empty cache (timed as a user sees it),
   with one expert per skill (default: the default preset's experts); ``--cache-dir`` reuses
   earlier builds instead (their training seconds are the recorded ones).
2. The base, every expert, and merges of the first two experts (mergekit linear and ties),
   evaluated side by side in this one run on: held-out items of every expert skill and of the
   ``general`` replay questions (same generators, another seed, disjoint from all training
   items), and all instances of the 22 seed task families, per capability.
3. Printed: pass rates and differences to the base; per expert its gain on its own held-out
   skill and its worst loss anywhere else (the bar: +15 and no worse than -10 points); skill
   vectors on the seed families; the items a merge solves that neither parent solves.
   Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from acdc_core.adapters.backends.hf import HFBackend
from acdc_core.adapters.evaluation import evaluate
from acdc_core.adapters.merging import merge_models
from acdc_core.adapters.sandbox import Sandbox
from acdc_core.config import EvaluationSection, load_config
from acdc_core.expert_data import REPLAY_ONLY, SKILLS, held_out, score_response, training_items
from acdc_core.recipes import MergeRecipe
from acdc_core.skills import skill_matrix, skill_vector
from acdc_core.taskfamily import TaskSet, seed_families
from storage import queries
from storage.db import RunDB

GAIN_BAR, LOSS_BAR = 15.0, -10.0


def solved_items(path: str, held: dict, tasks: TaskSet, ev: EvaluationSection, threads: int) -> dict[str, float]:
    """item key -> score for every held-out item and every seed-family instance."""
    backend = HFBackend(path, batch_size=ev.batch_size, torch_threads=threads,
                        use_chat_template=ev.use_chat_template)
    try:
        out = {}
        keys, prompts, items = [], [], []
        for skill, its in held.items():
            for k, i in enumerate(its):
                keys.append(f"{skill}:{k}")
                prompts.append(ev.prompt_template.format(instructions=i.instructions))
                items.append(i)
        gens = backend.generate(prompts, ev.max_new_tokens)
        out |= {k: score_response(i, g.text) for k, i, g in zip(keys, items, gens)}
        for row in evaluate(backend, tasks, Sandbox(), ev.prompt_template, ev.max_new_tokens):
            out[f"seed:{row['task_id']}:{row['instance_id']}"] = row["score"]
    finally:
        backend.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", default="smollm2")
    ap.add_argument("--skills", help="comma-separated expert skills (default: the default preset's experts)")
    ap.add_argument("--steps", type=int, help="training steps per expert (default: the preset's)")
    ap.add_argument("--replay-share", type=float, help="share of replay pairs per expert (default: the preset's)")
    ap.add_argument("--lr", type=float, help="peak learning rate per expert (default: the preset's)")
    ap.add_argument("--lora-layers", type=int, help="LoRA on the top N layers (default: the preset's)")
    ap.add_argument("--held-out", type=int, default=60, help="held-out items per skill")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-merges", action="store_true", help="skip the merges of the first two experts")
    ap.add_argument("--delta-scales", default="",
                    help="comma-separated a < 1: also evaluate base + a * (expert - base), a mergekit linear "
                         "merge of each expert with the base (WiSE-FT's weight interpolation)")
    ap.add_argument("--cache-dir", help="reuse the builds in this ACDC_CACHE_DIR (default: a new, empty one)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="acdc-bench-experts-"))
    try:
        measure(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the run's models, merges and scaled copies: gigabytes


def measure(args: argparse.Namespace, work: Path) -> None:
    """Steps 1-3 above, in the scratch folder ``work``."""
    cfg = load_config().model_dump(mode="json")
    cfg["models"]["family"] = args.family
    template = cfg["models"]["experts"][0]
    if args.skills:
        cfg["models"]["experts"] = [{**template, "name": s, "skill": s} for s in args.skills.split(",")]
    cfg["evaluation"]["torch_threads"] = args.threads
    for key in ("steps", "replay_share", "lr", "lora_layers"):
        if getattr(args, key) is not None:
            cfg["models"]["experts"] = [{**e, key: getattr(args, key)} for e in cfg["models"]["experts"]]
    (work / "config.yaml").write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "ACDC_CACHE_DIR": args.cache_dir or str(work / "cache")}

    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "flows.cli", "seeds", "build", "--config", str(work / "config.yaml"),
                    "--run-dir", str(work / "run")], check=True, env=env)
    wall = time.perf_counter() - t0
    db = RunDB(work / "run" / "acdc.duckdb")
    experts = db.read(queries.seed_experts)
    order = [e["name"] for e in cfg["models"]["experts"]]
    experts = experts.set_index("name").loc[order].reset_index()
    base_dir = str(work / "run" / "blobs" / "models" / experts.base_model_id.iloc[0])
    print(f"\n== build ({args.family}): acdc seeds build wall {wall:.0f} s (GGUF conversion included); per expert:")
    for r in experts.itertuples():
        print(f"   {r.name:9s} {r.skill:9s} {len(r.loss_curve)} steps  loss {r.loss_curve[0]:.3f} -> "
              f"{r.loss_curve[-1]:.3f}  {r.train_seconds:.0f} s (training + save; replay answers are shared)")
    print(f"   experts total: {experts.train_seconds.sum():.0f} s")

    # held-out items: another seed, disjoint from every item any expert trained on (own or replay)
    ev = EvaluationSection(**cfg["evaluation"])
    kinds = list(SKILLS) + list(REPLAY_ONLY)
    used: dict[str, list] = {s: [] for s in kinds}
    for r in experts.itertuples():
        rec = json.loads(r.recipe)["data"]
        own, replay = training_items(r.skill, rec["examples"], rec["replay_share"], rec["seed"])
        for item in own + replay:
            used[item.skill].append(item)
    held = {s: held_out(s, args.held_out, used[s]) for s in kinds}
    for s in kinds:
        assert not {i.instructions for i in held[s]} & {i.instructions for i in used[s]}
    sandbox = Sandbox()
    tasks = TaskSet(families=tuple(f.model_copy(update={"task_id": f.name}).with_instances(sandbox.instances(f.code, 8))
                                   for f in seed_families()))
    print(f"held-out: {args.held_out} items per kind {kinds}; seed families: {len(tasks)} x 8 instances "
          "(all a seed family makes)")

    dirs = {"base": base_dir} | {r.name: str(work / "run" / "blobs" / "models" / r.model_id) for r in experts.itertuples()}
    scaled = {}
    for a in [float(x) for x in args.delta_scales.split(",") if x]:
        for r in experts.itertuples():
            name = f"{r.name}@{a:g}"
            recipe = MergeRecipe(method="linear", parents=(r.name, "base"), weights=(a, 1.0 - a))
            merge_models(recipe, dirs, work / f"scaled-{name}", "bfloat16")
            scaled[name] = (r, str(work / f"scaled-{name}"))
    dirs |= {name: path for name, (_, path) in scaled.items()}
    if not args.no_merges and len(order) >= 2:
        a, b = order[:2]
        for method, recipe in (("linear", MergeRecipe(method="linear", parents=(a, b), weights=(0.5, 0.5))),
                               ("ties", MergeRecipe(method="ties", parents=(a, b), weights=(0.5, 0.5), density=0.5,
                                                    base="base"))):
            merge_models(recipe, dirs, work / f"merge-{method}", "bfloat16")
            dirs[f"{method}({a},{b})"] = str(work / f"merge-{method}")

    scores = {}
    for name, path in dirs.items():
        t = time.perf_counter()
        scores[name] = solved_items(path, held, tasks, ev, args.threads)
        print(f"evaluated {name} in {time.perf_counter() - t:.0f} s")

    caps = sorted({t.capability for t in tasks.families})
    cap_of = {t.task_id: t.capability for t in tasks.families}

    def items_of(col: str) -> list[str]:
        if col.startswith("seed "):
            cap = col.removeprefix("seed ")
            return [k for k in scores["base"]
                    if k.startswith("seed:") and (cap == "all" or cap_of[k.split(":")[1]] == cap)]
        return [k for k in scores["base"] if k.startswith(f"{col.removeprefix('held-out ')}:")]

    def rate(name: str, col: str) -> float:
        return 100 * float(np.mean([scores[name][k] for k in items_of(col)]))

    def paired_se(name: str, col: str) -> float:
        """Standard error (points) of the model's difference to the base on the column's items."""
        keys = items_of(col)
        d = np.array([scores[name][k] - scores["base"][k] for k in keys])
        return 100 * float(d.std(ddof=1) / np.sqrt(len(keys))) if len(keys) > 1 else 0.0

    cols = [f"held-out {s}" for s in kinds] + ["seed all"] + [f"seed {c}" for c in caps]
    table = {name: {c: rate(name, c) for c in cols} for name in scores}
    print("\n== pass rate (%) and difference to the base, points")
    print(f"{'model':22s}" + "".join(f"{c:>20s}" for c in cols))
    for name, vals in table.items():
        print(f"{name:22s}" + "".join(f"{v:7.1f} ({v - table['base'][c]:+6.1f})    " for c, v in vals.items()))

    print(f"\n== expert verdicts (bar: own held-out >= {GAIN_BAR:+.0f}, nothing else below {LOSS_BAR:+.0f} points)")
    print("   (+- : 1.96 paired standard errors of the difference to the base, over the column's items)")
    print(f"{'expert':10s} {'skill':10s} {'own gain':>15s} {'worst elsewhere':>34s}  verdict")
    for name, r in [(r.name, r) for r in experts.itertuples()] + [(n, r) for n, (r, _) in scaled.items()]:
        own = f"held-out {r.skill}"
        gain = table[name][own] - table["base"][own]
        others = {c: table[name][c] - table["base"][c] for c in cols if c not in (own, "seed all")}
        worst = min(others, key=others.get)
        ok = gain >= GAIN_BAR and others[worst] >= LOSS_BAR
        print(f"{name:10s} {r.skill:10s} {gain:+9.1f} +-{1.96 * paired_se(name, own):4.1f} "
              f"{others[worst]:+10.1f} +-{1.96 * paired_se(name, worst):4.1f} ({worst:>15s}, n={len(items_of(worst))})  "
              f"{'meets' if ok else 'FAILS'}")

    print("\n== skill vectors on the seed families (solved = mean score >= 0.5)")
    names = list(scores)
    rows = [(n, k.split(":")[1], v) for n in names for k, v in scores[n].items() if k.startswith("seed:")]
    matrix = skill_vector(skill_matrix(rows, names, tasks.ids))
    vectors = {n: "".join(map(str, matrix[i])) for i, n in enumerate(names)}
    for name, vec in vectors.items():
        print(f"  {name:22s} {vec}  ({vec.count('1')} solved)")
    same = [(x, y) for i, x in enumerate(names) for y in names[i + 1:] if vectors[x] == vectors[y]]
    print(f"  identical pairs: {same or 'none'}")
    inst = {n: "".join("1" if scores[n][k] >= 0.5 else "0" for k in sorted(scores["base"])) for n in names}
    print(f"  distinct instance-level vectors over all {len(scores['base'])} items: {len(set(inst.values()))} of {len(names)}")
    print("  resolution bought by instances per seed family (the first k of 8, as a run loads them):")
    for k in (2, 3, 4, 6, 8):
        keys = [key for key in sorted(scores["base"]) if key.startswith("seed:") and int(key.rsplit(":", 1)[1]) < k]
        vecs = {n: tuple(scores[n][key] >= 0.5 for key in keys) for n in names}
        pairs = [(x, y) for i, x in enumerate(names) for y in names[i + 1:]]
        apart = np.mean([sum(a != b for a, b in zip(vecs[x], vecs[y])) for x, y in pairs]) if pairs else 0.0
        print(f"    k={k}: {len(keys)} columns, {len(set(vecs.values()))} distinct vectors of {len(names)}, "
              f"mean Hamming distance between models {apart:.1f}, coverage {np.mean([any(v) for v in zip(*vecs.values())]):.3f}")

    print("\n== items a merge solves that neither parent solves (held-out + seed instances)")
    for merged in [n for n in names if "(" in n]:
        only = [k for k, v in scores[merged].items() if v >= 1.0 and scores[a][k] < 1.0 and scores[b][k] < 1.0]
        lost = [k for k in scores[merged] if scores[merged][k] < 1.0 and (scores[a][k] >= 1.0 or scores[b][k] >= 1.0)]
        print(f"  {merged}: {len(only)} new items (e.g. {only[:4]}), {len(lost)} items of a parent lost")
    union = sum(1 for k in scores["base"] if any(scores[n][k] >= 1.0 for n in names))
    print(f"  items solved by at least one model: {union} of {len(scores['base'])}")


if __name__ == "__main__":
    main()
