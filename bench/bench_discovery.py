"""Did the loop discover anything?  Runs side by side, per generation, from their DuckDB files.

    .venv/bin/python bench/bench_discovery.py runs/before runs/after [...]

Everything is recomputed here from the ``evaluations``, ``archive``, ``lineage`` and
``task_families`` tables with one definition for every run, old or new:

- distinct: distinct skill vectors in the archive after generation g, over the instances of the
  pool the generation evaluated on (families admitted before g and not yet retired), per
  instance and per family (mean >= the solved threshold);
- new: instances solved by a child of generation g that none of its parents solves (distinct
  over the generation's children), and how many of the evaluated children found one;
- gibberish: children the screen discarded, of those bred;
- history: coverage of the whole task history (families admitted up to g) by the archive after
  g, as ``acdc report`` computes it; asked: the share of those instances some archive model
  answered (below 1 in runs without ``evaluation.answer_retired``, where children never saw the
  retired families and history undercounts); active: the same over the evaluated pool's instances;
- seeds: the same share of the history solved by the seed models (marked ``*`` where the seeds
  have not answered every history instance: runs older than the seeds' answers to admitted tasks);
  beyond: history instances the archive after g solves and no seed does; beyond0: the same over
  the seed task set only (generation 0's families, which every run's seeds answered and which no
  adaptation chose: comparable across runs, old and new).

Nothing is asserted.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import duckdb

from acdc_core.exploration import child_effects
from acdc_core.skills import distinct_vectors, skill_table, task_coverage
from report.page import coverage_rule
from storage.queries import global_coverage_frame


def pool_at(con: duckdb.DuckDBPyConnection, g: int) -> list[str]:
    """Task ids generation ``g`` evaluated its children on: admitted before g (the seed set at
    g = 0) and not retired by an adaptation before g."""
    return [r[0] for r in con.execute("""
        SELECT task_id FROM task_families f
        WHERE (f.created_generation < ? OR f.created_generation = 0)
          AND NOT EXISTS (SELECT 1 FROM task_events e WHERE e.task_id = f.task_id AND e.generation < ?
                          AND e.event IN ('dropped_unsolved', 'replaced', 'pruned'))
        ORDER BY task_id""", [g, g]).fetchall()]


def seed_reference(con: duckdb.DuckDBPyConnection, archive: list[str], g: int, thr: float) -> dict:
    """The archive after ``g`` against the seed models on the task history up to ``g``:
    {"seeds": the seeds' coverage (str, ``*`` when they left history instances unanswered),
    "beyond": instances the archive solves and no seed does, "beyond0": the same on the seed task set}."""
    seeds = [r[0] for r in con.execute("SELECT model_id FROM models WHERE operator = 'seed'").fetchall()]
    history = {(t, i, c == 0) for t, i, c in con.execute(
        "SELECT task_id, instance_id, created_generation FROM task_instances JOIN task_families USING (task_id) "
        "WHERE created_generation <= ?", [g]).fetchall()}
    keys = {(t, i) for t, i, _ in history}
    first = {(t, i) for t, i, zero in history if zero}

    def rows(models: list[str], solved_only: bool) -> set[tuple[str, str]]:
        return {(t, i) for t, i in con.execute(
            "SELECT task_id, instance_id FROM evaluations WHERE list_contains(?, model_id) AND generation <= ? "
            "AND score >= ?", [models, g, thr if solved_only else float("-inf")]).fetchall()} & keys

    by_seeds, by_archive = rows(seeds, True), rows(archive, True)
    complete = all(len(rows([s], False)) == len(keys) for s in seeds)
    return {"seeds": f"{len(by_seeds) / len(keys):.2f}{'' if complete else '*'}",
            "beyond": len(by_archive - by_seeds), "beyond0": len((by_archive - by_seeds) & first)}


def per_generation(run_dir: Path) -> list[dict]:
    con = duckdb.connect(str(run_dir / "acdc.duckdb"), read_only=True)
    try:
        rule = coverage_rule(con)
        thr = rule["threshold"]
        frame = global_coverage_frame(con, **rule)
        history = dict(frame[["generation", "coverage"]].itertuples(index=False))
        asked = dict(zip(frame["generation"], frame["n_evaluated"] / frame["n_instances"]))
        out = []
        for g, bred, gib in con.execute(
                "SELECT generation, n_candidates, n_gibberish FROM generations ORDER BY 1").fetchall():
            archive = [r[0] for r in con.execute(
                "SELECT model_id FROM archive WHERE generation = ? ORDER BY rank", [g]).fetchall()]
            pool = pool_at(con, g)
            rows = con.execute("SELECT model_id, task_id, instance_id, score FROM evaluations "
                               "WHERE list_contains(?, model_id) AND list_contains(?, task_id) AND generation <= ?",
                               [archive, pool, g]).fetchall()
            inst, _ = skill_table(rows, archive, pool, "instance")
            fam, _ = skill_table(rows, archive, pool, "family")
            kids = con.execute("SELECT child_id, list(parent_id ORDER BY parent_id) FROM lineage "
                               "WHERE generation = ? GROUP BY 1", [g]).fetchall()
            ids = sorted({k for k, _ in kids} | {p for _, ps in kids for p in ps})
            answers = con.execute("SELECT model_id, task_id, instance_id, submission, score FROM evaluations "
                                  "WHERE list_contains(?, model_id) AND list_contains(?, task_id)",
                                  [ids, pool]).fetchall()
            evaluated = {m for m, *_ in answers}
            effects = child_effects({k: tuple(ps) for k, ps in kids if k in evaluated}, answers, thr)
            beyond = seed_reference(con, archive, g, thr)
            out.append({**beyond,
                "generation": g, "archive": len(archive), "tasks": len(pool),
                "distinct_instance": distinct_vectors(inst, thr), "distinct_family": distinct_vectors(fam, thr),
                "new": len({k for e in effects for k in e.new_solved}),
                "finding": sum(1 for e in effects if e.new_solved), "evaluated": len(effects),
                "differ": sum(e.differ_share for e in effects) / len(effects) if effects else float("nan"),
                "gibberish": f"{gib}/{bred}",
                "history": history.get(g, float("nan")), "asked": asked.get(g, float("nan")),
                "active": task_coverage(inst, thr),
                "best": max(inst.mean(axis=1)) if len(archive) else float("nan"),
            })
        return out
    finally:
        con.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path, help="run folders")
    args = ap.parse_args()
    tables = {r: per_generation(r) for r in args.runs}
    cols = [("distinct_instance", "{:>4d}"), ("distinct_family", "{:>4d}"), ("new", "{:>4d}"),
            ("finding", "{:>3d}"), ("evaluated", "{:>3d}"), ("differ", "{:>5.2f}"), ("gibberish", "{:>5s}"),
            ("history", "{:>5.2f}"), ("asked", "{:>5.2f}"), ("seeds", "{:>5s}"), ("beyond", "{:>3d}"), ("beyond0", "{:>3d}"),
            ("active", "{:>5.2f}"), ("best", "{:>5.2f}"), ("tasks", "{:>3d}")]
    head = ("dist/inst dist/fam new finding/evaluated differ gibberish history asked seeds beyond beyond0 active "
            "best tasks")
    print(f"columns per run: {head}")
    n = max(len(t) for t in tables.values())
    print(f"{'gen':>3s}  " + "  |  ".join(f"{str(r):<74s}" for r in args.runs))
    for g in range(n):
        cells = []
        for r in args.runs:
            row = tables[r][g] if g < len(tables[r]) else None
            cells.append(" ".join(fmt.format(row[c]) for c, fmt in cols) if row else "")
        print(f"{g:>3d}  " + "  |  ".join(f"{c:<74s}" for c in cells))
    for r, t in tables.items():
        print(f"{r}: instances found by a child and no parent, all generations: {sum(x['new'] for x in t)}; "
              f"final coverage of the history {t[-1]['history']:.3f} (seeds {t[-1]['seeds']}; {t[-1]['beyond']} "
              f"instances no seed solves, {t[-1]['beyond0']} of them in the seed task set), distinct vectors "
              f"{t[-1]['distinct_instance']}")


if __name__ == "__main__":
    main()
