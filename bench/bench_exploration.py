"""Do children differ from their parents?  Merge and mutation settings side by side.

    .venv/bin/python bench/bench_exploration.py --run-dir runs/default [--children 6] [--instances 4]

Takes the seed models of a run (the base and its experts, generation 0), draws the same
``--children`` parent pairs for every setting, and makes one child per pair and setting
(mergekit merge, then mutation, as the run does).  Each child is screened for gibberish
(the run's heuristic, 3 prompts) and, if it passes, answers every instance of the 22 seed task
families; parents answer once.  Printed per setting, measured in this one run:

- gibberish: share of children the screen discards;
- differ: mean share of instances where the child's answer differs from both parents';
- finding new: share of children that solve an instance neither parent solves, and the mean
  number of such instances per child (lost: instances a parent solves and the child does not);
- score: the child's mean score next to the mean of its parents';
- survive: the share of the new instances that no parent solves in ``--noise-samples`` samples
  at T=0.7 either (the noise floor: the rest a parent reaches on a re-draw).

Nothing is asserted; the run's defaults are chosen from this table.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np

from acdc_core.adapters.backends.hf import HFBackend
from acdc_core.adapters.evaluation import evaluate, gibberish_check
from acdc_core.adapters.merging import merge_models
from acdc_core.adapters.sandbox import Sandbox
from acdc_core.adapters.weights import mutate_folder
from acdc_core.config import CrossoverSection, EvaluationSection, GibberishSection, MutationSection, load_config
from acdc_core.exploration import child_effects
from acdc_core.recipes import draw_merge, draw_mutation
from acdc_core.taskfamily import TaskSet, seed_families
from acdc_core.transfer import noise_floor, replicate, split_sample

# name -> (crossover overrides, or None for mutation of the first parent only; mutation overrides)
SETTINGS: dict[str, tuple[dict | None, dict]] = {
    "linear N(1,.01), no mutation": ({"method": "linear"}, {"method": "none"}),
    "linear N(1,.01) + svd .25 (default)": ({"method": "linear"}, {"method": "svd", "svd_noise_std": 0.25}),
    "linear N(1,.3) + svd .25": ({"method": "linear", "weight_std": 0.3}, {"method": "svd", "svd_noise_std": 0.25}),
    "task_arithmetic + svd .25": ({"method": "task_arithmetic"}, {"method": "svd", "svd_noise_std": 0.25}),
    "ties d=.5 + svd .25": ({"method": "ties"}, {"method": "svd", "svd_noise_std": 0.25}),
    "dare_ties d=.5 + svd .25": ({"method": "dare_ties"}, {"method": "svd", "svd_noise_std": 0.25}),
    "linear + svd 1": ({"method": "linear"}, {"method": "svd", "svd_noise_std": 1.0}),
    "linear + svd 2": ({"method": "linear"}, {"method": "svd", "svd_noise_std": 2.0}),
    "svd 1 only (mutant of one parent)": (None, {"method": "svd", "svd_noise_std": 1.0}),
    "linear + svd .5": ({"method": "linear"}, {"method": "svd", "svd_noise_std": 0.5}),
    "svd .25 only (mutant of one parent)": (None, {"method": "svd", "svd_noise_std": 0.25}),
    "dare_ties d=.5 + svd .5": ({"method": "dare_ties"}, {"method": "svd", "svd_noise_std": 0.5}),
    "task_arithmetic sum, no mutation": ({"method": "task_arithmetic", "normalize": False}, {"method": "none"}),
    "task_arithmetic sum + svd .25": ({"method": "task_arithmetic", "normalize": False},
                                      {"method": "svd", "svd_noise_std": 0.25}),
    "ties d=.5 sum + svd .25": ({"method": "ties", "normalize": False}, {"method": "svd", "svd_noise_std": 0.25}),
}


def seeds_of(run_dir: Path) -> tuple[dict[str, str], str]:
    """{name: folder} of the run's seed models and the base model's id."""
    con = duckdb.connect(str(run_dir / "acdc.duckdb"), read_only=True)
    try:
        rows = con.execute("SELECT model_id, uri, recipe->>'name', CAST(recipe->>'is_base' AS BOOLEAN) "
                           "FROM models WHERE operator IN ('seed', 'base') ORDER BY model_id").fetchall()
    finally:
        con.close()
    folders = {mid: uri.removeprefix("file://") for mid, uri, _, _ in rows}
    base = next(mid for mid, _, _, is_base in rows if is_base)
    print("seeds: " + ", ".join(f"{name} ({mid})" for mid, _, name, _ in rows))
    return folders, base


def answer(path: str, model_id: str, tasks: TaskSet, ev: EvaluationSection, g: GibberishSection,
           prompts: list[str], threads: int, samples: int = 0) -> tuple[bool, list[tuple], list[tuple]]:
    """(is gibberish, answer rows, sampled score rows) of one model, screened and evaluated in one
    load; ``samples`` > 0 also answers every instance that many times at T=0.7 in one batch."""
    backend = HFBackend(path, batch_size=ev.batch_size, torch_threads=threads, dtype=ev.dtype)
    try:
        verdict, _ = gibberish_check(backend, prompts, ev.max_new_tokens, max_repeat_ratio=g.max_repeat_ratio,
                                     min_compression_ratio=g.min_compression_ratio,
                                     max_non_text_ratio=g.max_non_text_ratio)
        if verdict.is_gibberish:
            return True, [], []
        rows = evaluate(backend, tasks, Sandbox(), ev.prompt_template, ev.max_new_tokens)
        sampled = evaluate(backend, replicate(tasks, samples), Sandbox(), ev.prompt_template, ev.max_new_tokens,
                           0.7, 0) if samples else []
    finally:
        backend.close()
    return (False, [(model_id, r["task_id"], r["instance_id"], r["submission"], r["score"]) for r in rows],
            [(model_id, r["task_id"], split_sample(r["instance_id"])[0], r["score"]) for r in sampled])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run-dir", default="runs/default", help="a run whose generation 0 holds the seed experts")
    ap.add_argument("--children", type=int, default=6, help="children per setting (the same parent pairs)")
    ap.add_argument("--instances", type=int, default=4, help="instances per seed task family")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--settings", help="comma-separated indices into the settings table (default: all)")
    ap.add_argument("--noise-samples", type=int, default=4, help="samples per parent and instance (noise floor)")
    args = ap.parse_args()
    cfg = load_config()
    ev, gib = cfg.evaluation, cfg.gibberish
    folders, base = seeds_of(Path(args.run_dir))
    sandbox = Sandbox()
    tasks = TaskSet(families=tuple(f.model_copy(update={"task_id": f.name}).with_instances(
        sandbox.instances(f.code, args.instances)) for f in seed_families()))
    rng = np.random.default_rng(0)
    prompts = [ev.prompt_template.format(instructions=i)
               for t in tasks.families[:3] for i in t.instructions()][:gib.samples]
    ids = sorted(folders)
    pairs = [tuple(ids[j] for j in rng.choice(len(ids), 2, replace=False)) for _ in range(args.children)]
    print(f"{len(tasks)} families x {args.instances} instances; parent pairs: {pairs}")

    rows: list[tuple] = []
    sampled: list[tuple] = []
    t = time.perf_counter()
    for mid in ids:
        _, greedy, draws = answer(folders[mid], mid, tasks, ev, gib, prompts, args.threads, args.noise_samples)
        rows, sampled = rows + greedy, sampled + draws
    print(f"parents answered in {time.perf_counter() - t:.0f} s")

    names = list(SETTINGS)
    if args.settings:
        names = [names[int(i)] for i in args.settings.split(",")]
    work = Path(tempfile.mkdtemp(prefix="acdc-bench-exploration-"))
    results = {}
    for si, name in enumerate(names):
        cross, mut = SETTINGS[name]
        t0 = time.perf_counter()
        children, gibberish, child_rows = {}, 0, []
        for k, (a, b) in enumerate(pairs):
            draw = np.random.default_rng([si, k])
            out = work / f"s{si}-c{k}"
            parents: tuple[str, ...] = (a,)
            src = Path(folders[a])
            if cross is not None:
                recipe = draw_merge([a, b], CrossoverSection(**cross), base, draw)
                merge_models(recipe, folders, out / "merged", cfg.models.storage_dtype)
                src, parents = out / "merged", (a, b)
            mutation = draw_mutation(MutationSection(**mut), draw)
            if mutation is not None:
                mutate_folder(src, out / "mutated", mutation)
                src = out / "mutated"
            cid = f"{si}-{k}"
            is_gib, r, _ = answer(str(src), cid, tasks, ev, gib, prompts, args.threads)
            gibberish += is_gib
            if not is_gib:
                children[cid] = parents
                child_rows += r
            shutil.rmtree(out, ignore_errors=True)
        effects = child_effects(children, rows + child_rows, ev.solved_threshold)
        noise = noise_floor({e.model_id: e.new_solved for e in effects}, children, sampled, args.noise_samples,
                            ev.solved_threshold)
        score = {m: np.mean([s for mm, *_, s in rows + child_rows if mm == m]) for m in set(children) | set(ids)}
        results[name] = {
            "gibberish": gibberish / len(pairs),
            "differ": np.mean([e.differ_share for e in effects]) if effects else float("nan"),
            "finding": np.mean([bool(e.new_solved) for e in effects]) if effects else float("nan"),
            "new": np.mean([len(e.new_solved) for e in effects]) if effects else float("nan"),
            "lost": np.mean([len(e.lost_solved) for e in effects]) if effects else float("nan"),
            "score": np.mean([score[e.model_id] for e in effects]) if effects else float("nan"),
            "parents": np.mean([np.mean([score[p] for p in e.parents]) for e in effects]) if effects else float("nan"),
            "survive": noise.metrics().get("new_survive_share", float("nan")),
            "seconds": time.perf_counter() - t0,
        }
        r = results[name]
        print(f"{name}: gibberish {r['gibberish']:.2f}, differ {r['differ']:.3f}, new {r['new']:.1f} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)

    print(f"\n== {len(pairs)} children per setting, {len(tasks) * args.instances} instances each")
    print(f"{'setting':42s} {'gibberish':>9s} {'differ':>7s} {'finding new':>11s} {'new/child':>9s} "
          f"{'lost/child':>10s} {'score':>6s} {'parents':>7s} {'survive':>7s} {'s':>5s}")
    for name, r in results.items():
        print(f"{name:42s} {r['gibberish']:9.2f} {r['differ']:7.3f} {r['finding']:11.2f} {r['new']:9.1f} "
              f"{r['lost']:10.1f} {r['score']:6.3f} {r['parents']:7.3f} {r['survive']:7.2f} {r['seconds']:5.0f}")


if __name__ == "__main__":
    main()
