"""``acdc``: the command line.  ``acdc run`` starts or resumes a run, ``acdc status`` shows one,
``acdc seeds build`` builds the seed experts alone, ``acdc assess`` measures coverage on real
benchmarks, ``acdc transfer`` on held-out instances of the run's own families, ``acdc report``
and ``acdc export`` show and hand over the result, ``acdc validate``
checks a config without running anything."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DEFAULT_RUN_DIR = "runs/default"


def _print_table(title: str, rows: list[tuple[str, object]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for k, v in rows:
        # metrics are stored as floats: whole ones are counts, printed as such
        text = ("-" if v is None else f"{v:.0f}" if isinstance(v, float) and v.is_integer()
                else f"{v:.3f}" if isinstance(v, float) else str(v))
        table.add_row(k, text)
    Console().print(table)


def _print_summary(summary: dict) -> None:
    _print_table("AC/DC run", [
        ("generations done", f"{summary['generations_done']} of {summary['generations_target']}"),
        ("archive size", summary["archive_size"]),
        ("distinct skill vectors in the archive", summary["distinct_skill_vectors"]),
        ("best fitness", summary["best_fitness"]),
        ("coverage of the whole task history", summary["coverage_history"]),
        ("the same by the seeds alone", summary["coverage_history_seeds"]),
        ("history instances the archive solves and no seed does", summary["history_beyond_seeds"]),
        ("coverage of the held-out instances (never selected on)", summary["coverage_heldout"]),
        ("the same by the seeds alone", summary["coverage_heldout_seeds"]),
        ("held-out instances the archive solves and no seed does", summary["heldout_beyond_seeds"]),
        ("held-out instances", summary["heldout_instances"]),
        ("coverage of the active pool", summary["coverage_active"]),
        ("instances solved by a child and no parent", summary["children_new_instances"]),
        ("share of those no parent solves when re-sampled", summary["new_survive_share"]),
        ("active tasks", summary["tasks"]),
        ("tasks ever admitted", summary["tasks_history"]),
        ("task Vendi score (cumulative)", summary["vendi_cumulative"]),
        ("task clusters (HDBSCAN)", summary["task_clusters"]),
        ("share of active tasks that discriminate", summary["discriminating_share"]),
        ("models created", summary["models_created"]),
        ("DuckDB file", summary["duckdb"]),
        ("models", summary["models_store"]),
    ])


def cmd_run(args: argparse.Namespace) -> int:
    from acdc_core.config import load_config

    if args.config:
        load_config(args.config)  # fail on a bad config before Prefect or any work starts
    from flows.run import acdc_run

    summary = acdc_run(
        run_dir=args.run_dir, config_path=args.config, generations=args.generations, fresh=args.fresh
    )
    _print_summary(summary)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from flows.run import run_summary
    from storage.queries import metrics_frame, open_run

    try:
        summary = run_summary(args.run_dir)
    except FileNotFoundError as exc:
        print(f"acdc status: {exc}", file=sys.stderr)
        return 1
    _print_summary(summary)
    with open_run(args.run_dir) as con:
        wide = metrics_frame(con, ["archive_size", "distinct_skill_vectors", "best_fitness", "mean_fitness",
                                   "coverage_history", "coverage_history_lo", "coverage_history_hi",
                                   "coverage_history_seeds", "history_beyond_seeds", "coverage_heldout",
                                   "coverage_heldout_seeds", "heldout_beyond_seeds",
                                   "coverage_active", "children_new_instances", "children_new_robust", "n_candidates",
                                   "n_gibberish", "n_admitted", "tasks_active", "seconds"])
    if not wide.empty:
        print(wide.set_index("generation").round(3).to_string())
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from report.page import write_report

    try:
        path = write_report(args.run_dir, args.out)
    except FileNotFoundError as exc:
        print(f"acdc report: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from report.export import ExportError, export_models

    try:
        folders = export_models(args.run_dir, args.out or str(Path(args.run_dir) / "export"), args.set, args.models)
    except (FileNotFoundError, ExportError) as exc:
        print(f"acdc export: {exc}", file=sys.stderr)
        return 1
    for f in folders:
        print(f)
    return 0


def cmd_seeds_build(args: argparse.Namespace) -> int:
    if args.config:
        from acdc_core.config import load_config

        load_config(args.config)
    from flows.seeds import seeds_flow
    from storage import queries
    from tasks.run_folder import RunContext

    seeds_flow(run_dir=args.run_dir, config_path=args.config, fresh=args.fresh)
    df = RunContext.load(args.run_dir).db.read(queries.seed_experts)
    rows = [(f"{r.name} ({r.skill})", f"{r.model_id} · final loss {r.loss_curve[-1]:.3f} · "
             f"{len(r.loss_curve)} steps · built in {r.train_seconds:.0f} s") for r in df.itertuples()]
    _print_table("seed experts", rows or [("none", "models.experts is empty")])
    return 0


def cmd_assess(args: argparse.Namespace) -> int:
    import yaml

    from storage import queries
    from tasks.run_folder import RunContext, update_assessment

    changes = {}
    if args.config:
        changes.update((yaml.safe_load(Path(args.config).read_text()) or {}).get("assessment", {}))
    for key in ("benchmarks", "limit", "set_sizes"):
        if getattr(args, key) is not None:
            changes[key] = getattr(args, key)
    if args.no_reference:
        changes["reference_models"] = []
    try:
        update_assessment(args.run_dir, changes)
    except FileNotFoundError as exc:
        print(f"acdc assess: {exc}", file=sys.stderr)
        return 1
    if RunContext.load(args.run_dir).db.read(queries.last_generation) is None:
        print(f"acdc assess: {args.run_dir} has no committed generation yet, nothing to assess", file=sys.stderr)
        return 1
    from flows.assess import assess_flow

    out = assess_flow(run_dir=args.run_dir)
    sets = {s["set_name"]: s for s in out["sets"]}
    benches = sorted({b for cov in out["coverage"].values() for b in cov if b != "all"}) + ["all"]
    print(f"coverage after generation {out['generation']} (share of items solved by any member; "
          f"{out['pairs_evaluated']} model x task pairs evaluated for the global skill vectors)")
    print(f"{'set':28s} {'n':>2s} {'synthetic':>9s} " + " ".join(f"{b:>10s}" for b in benches))
    for name, cov in out["coverage"].items():
        syn = sets[name]["synthetic_coverage"]
        print(f"{name:28s} {sets[name]['n']:2d} {'' if syn is None else f'{syn:.3f}':>9s} "
              + " ".join(f"{cov.get(b, float('nan')):10.3f}" for b in benches))
    print("confidence intervals, p-values and best-of-N: table assessment_results; `acdc report` draws them")
    return 0


def cmd_transfer(args: argparse.Namespace) -> int:
    from storage import queries
    from tasks.run_folder import RunContext

    try:
        ctx = RunContext.load(args.run_dir)
    except FileNotFoundError as exc:
        print(f"acdc transfer: {exc}", file=sys.stderr)
        return 1
    if ctx.db.read(queries.last_generation) is None or not ctx.config.heldout.instances:
        print(f"acdc transfer: {args.run_dir} has no committed generation or no held-out instances "
              "(heldout.instances is 0), nothing to check", file=sys.stderr)
        return 1
    from flows.transfer import transfer_flow

    rows = transfer_flow(run_dir=args.run_dir, samples=args.samples, temperature=args.temperature,
                         sizes=tuple(args.set_sizes))
    print(f"after generation {rows[0]['generation']}: {rows[0]['n_heldout']} held-out instances (never selected on), "
          f"{rows[0]['n_history']} history instances")
    print(f"{'set':26s} {'n':>2s} {'held-out':>9s} {'history':>8s}")
    for r in rows:
        hist = "" if r["coverage_history"] is None else f"{r['coverage_history']:.3f}"
        print(f"{r['set_name']:26s} {r['n']:2d} {r['coverage_heldout']:9.3f} {hist:>8s}")
    print("table transfer_results; task_force_heldout_N is cross-fitted (chosen on one half, counted on the other)")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from acdc_core.config import load_config
    from tasks.checks import offline_problems, sandbox_isolation

    cfg = load_config(args.config, preset=args.preset)
    if problems := offline_problems(cfg):
        source = args.config or f"preset {args.preset}"
        for line in problems:
            print(f"acdc validate: {source}: {line}", file=sys.stderr)
        print(f"acdc validate: {source} names {len(problems)} model(s) this machine cannot load offline; "
              "a run would fail when it reaches them", file=sys.stderr)
        return 2
    print(f"config OK: {args.config or 'preset ' + args.preset} "
          f"({cfg.run.generations} generations, archive {cfg.population.archive_size}, "
          f"{cfg.crossover.method} crossover, {cfg.mutation.method} mutation)")
    print(f"sandbox: {sandbox_isolation(cfg)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="acdc", description="AC/DC: coevolve LLM experts and tasks.")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="start or resume a run", description=(
        "Start a run, or resume the one in --run-dir after its last committed generation."))
    r.add_argument("--config", help="YAML config (default: the run's stored config, else the embedded default)")
    r.add_argument("--run-dir", default=DEFAULT_RUN_DIR, help=f"run folder (default {DEFAULT_RUN_DIR})")
    r.add_argument("--generations", type=int, metavar="N", help="run N more generations past the last committed one")
    r.add_argument("--fresh", action="store_true", help="delete the run folder and start over")
    r.set_defaults(func=cmd_run)

    s = sub.add_parser("status", help="show a run's progress", description="Summary and per-generation metrics of a run.")
    s.add_argument("--run-dir", default=DEFAULT_RUN_DIR)
    s.set_defaults(func=cmd_status)

    rp = sub.add_parser("report", help="write an HTML report of a run", description=(
        "Write <out>/report.html (self-contained, figures embedded) and one PNG per figure."))
    rp.add_argument("--run-dir", default=DEFAULT_RUN_DIR, help=f"run folder (default {DEFAULT_RUN_DIR})")
    rp.add_argument("--out", help="output folder (default <run-dir>/report)")
    rp.set_defaults(func=cmd_report)

    ex = sub.add_parser("export", help="write a set of models as Hugging Face folders with model cards", description=(
        "Copy a set of the run's models (default: the latest assessment's largest greedy task force, else the "
        "final archive) to <out>/NN_<model_id>/, each with a README.md model card: lineage, recipe, skill "
        "profile over the task clusters, benchmark numbers."))
    ex.add_argument("--run-dir", default=DEFAULT_RUN_DIR, help=f"run folder (default {DEFAULT_RUN_DIR})")
    ex.add_argument("--out", help="output folder (default <run-dir>/export)")
    ex.add_argument("--set", help="an assessed set by name, e.g. task_force_greedy_3 (see assessment_sets)")
    ex.add_argument("--models", type=lambda v: v.split(","), help="comma-separated model ids instead of a set")
    ex.set_defaults(func=cmd_export)

    sd = sub.add_parser("seeds", help="seed experts", description="Build the seed population before a run.")
    sd_sub = sd.add_subparsers(dest="seeds_command", required=True)
    b = sd_sub.add_parser("build", help="fine-tune (or reuse) the seed experts", description=(
        "Prepare the seed models and fine-tune the experts of models.experts from the base, into the "
        "run's blob store and its seed_experts table; builds are cached per machine and reused."))
    b.add_argument("--config", help="YAML config (default: the run's stored config, else the embedded default)")
    b.add_argument("--run-dir", default=DEFAULT_RUN_DIR, help=f"run folder (default {DEFAULT_RUN_DIR})")
    b.add_argument("--fresh", action="store_true", help="delete the run folder first (cached builds are kept)")
    b.set_defaults(func=cmd_seeds_build)

    a = sub.add_parser("assess", help="coverage of task forces and baselines on real benchmarks", description=(
        "Evaluate every archived model on the whole task history, choose task forces and baselines on "
        "it, run them on benchmarks through lm-evaluation-harness, and store coverage (with bootstrap "
        "intervals and p-values) and best-of-N accuracy in the run's DuckDB file. Options update the "
        "run config's assessment section; answers already stored are reused."))
    a.add_argument("--run-dir", default=DEFAULT_RUN_DIR, help=f"run folder (default {DEFAULT_RUN_DIR})")
    a.add_argument("--config", help="YAML file whose assessment: keys replace the run's stored ones (keys it "
                                   "leaves out keep their stored values)")
    a.add_argument("--benchmarks", type=lambda v: v.split(","), help="comma-separated, e.g. arc_easy,piqa,boolq,gsm8k")
    a.add_argument("--limit", type=int, help="items per benchmark (a seeded subset)")
    a.add_argument("--set-sizes", dest="set_sizes", type=int, nargs="+", metavar="N", help="task force sizes")
    a.add_argument("--no-reference", action="store_true", help="skip the reference models (the larger model)")
    a.set_defaults(func=cmd_assess)

    t = sub.add_parser("transfer", help="do the run's gains hold on held-out instances?", description=(
        "After the last generation: every model ever archived and every seed answers the history and held-out "
        "instances it has not answered, the best seed answers each held-out instance --samples times; task "
        "forces chosen on the history are compared with the seeds, the sampled best seed and the archive on "
        "the held-out instances, and stored in transfer_results."))
    t.add_argument("--run-dir", default=DEFAULT_RUN_DIR, help=f"run folder (default {DEFAULT_RUN_DIR})")
    t.add_argument("--samples", type=int, default=8, help="samples of the best seed per held-out instance (default 8)")
    t.add_argument("--temperature", type=float, default=0.7, help="their temperature (default 0.7)")
    t.add_argument("--set-sizes", dest="set_sizes", type=int, nargs="+", default=[3, 8], metavar="N",
                   help="task force sizes (default 3 8)")
    t.set_defaults(func=cmd_transfer)

    v = sub.add_parser("validate", help="check a config without running", description=(
        "Validate a config file (or an embedded preset): keys, types, combinations, and that every model it "
        "names loads offline (a local folder, a shipped family, or a hub id in the local Hugging Face cache)."))
    v.add_argument("--config", help="YAML config file")
    v.add_argument("--preset", default="default", help="embedded preset when no --config: default | paper")
    v.set_defaults(func=cmd_validate)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # offline machines
    # the temporary server needs more than Prefect's 20 s on 2 busy cores
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    from tasks.checks import USER_ERRORS

    try:
        return args.func(args)
    except USER_ERRORS as exc:
        print(f"acdc {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
