"""``acdc``: the command line.  ``acdc run`` starts or resumes a run, ``acdc status`` shows one,
``acdc seeds build`` builds the seed experts alone, ``acdc validate`` checks a config without
running anything."""

from __future__ import annotations

import argparse
import os
import sys

DEFAULT_RUN_DIR = "runs/default"


def _print_table(title: str, rows: list[tuple[str, object]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_header=False)
    table.add_column(style="bold")
    table.add_column()
    for k, v in rows:
        table.add_row(k, f"{v:.3f}" if isinstance(v, float) else str(v))
    Console().print(table)


def _print_summary(summary: dict) -> None:
    _print_table("AC/DC run", [
        ("generations done", f"{summary['generations_done']} of {summary['generations_target']}"),
        ("archive size", summary["archive_size"]),
        ("best fitness", summary["best_fitness"]),
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
    from tasks.context import RunContext

    try:
        summary = run_summary(args.run_dir)
    except FileNotFoundError as exc:
        print(f"acdc status: {exc}", file=sys.stderr)
        return 1
    _print_summary(summary)
    db = RunContext.load(args.run_dir).db
    with db.connect(read_only=True) as con:
        df = con.execute(
            "SELECT generation, name, value FROM metrics ORDER BY generation"
        ).df()
    if not df.empty:
        wide = df.pivot(index="generation", columns="name", values="value")
        cols = [c for c in ("archive_size", "best_fitness", "mean_fitness", "task_coverage",
                            "distinct_skill_vectors", "n_candidates", "n_gibberish", "n_admitted", "seconds")
                if c in wide.columns]
        print(wide[cols].round(3).to_string())
    return 0


def cmd_seeds_build(args: argparse.Namespace) -> int:
    if args.config:
        from acdc_core.config import load_config

        load_config(args.config)
    from flows.seeds import seeds_flow
    from tasks.context import RunContext

    seeds_flow(run_dir=args.run_dir, config_path=args.config, fresh=args.fresh)
    df = RunContext.load(args.run_dir).db.seed_experts()
    rows = [(f"{r.name} ({r.skill})", f"{r.model_id} · final loss {r.loss_curve[-1]:.3f} · "
             f"{len(r.loss_curve)} steps · built in {r.train_seconds:.0f} s") for r in df.itertuples()]
    _print_table("seed experts", rows or [("none", "models.experts is empty")])
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from acdc_core.config import load_config

    cfg = load_config(args.config, preset=args.preset)
    print(f"config OK: {args.config or 'preset ' + args.preset} "
          f"({cfg.run.generations} generations, archive {cfg.population.archive_size}, "
          f"{cfg.crossover.method} crossover, {cfg.mutation.method} mutation)")
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

    sd = sub.add_parser("seeds", help="seed experts", description="Build the seed population before a run.")
    sd_sub = sd.add_subparsers(dest="seeds_command", required=True)
    b = sd_sub.add_parser("build", help="fine-tune (or reuse) the seed experts", description=(
        "Prepare the seed models and fine-tune the experts of models.experts from the base, into the "
        "run's blob store and its seed_experts table; builds are cached per machine and reused."))
    b.add_argument("--config", help="YAML config (default: the run's stored config, else the embedded default)")
    b.add_argument("--run-dir", default=DEFAULT_RUN_DIR, help=f"run folder (default {DEFAULT_RUN_DIR})")
    b.add_argument("--fresh", action="store_true", help="delete the run folder first (cached builds are kept)")
    b.set_defaults(func=cmd_seeds_build)

    v = sub.add_parser("validate", help="check a config without running", description=(
        "Validate a config file (or an embedded preset): keys, types, combinations, model paths."))
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
    from acdc_core.config import ConfigError
    from acdc_core.embedding import EmbedderError
    from acdc_core.finetune import TrainingDiverged
    from acdc_core.seeds import SeedError

    try:
        return args.func(args)
    except (ConfigError, SeedError, TrainingDiverged, EmbedderError) as exc:
        print(f"acdc {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
