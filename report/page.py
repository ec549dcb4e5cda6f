"""``acdc report``: one self-contained HTML page (and a PNG per figure) showing a run.

The numbers come from :mod:`storage.queries` (a read-only connection: nothing is migrated or
written), the figures from :mod:`report.figures`; a report of an older run (no assessment
tables, no embeddings, one generation) skips what it lacks with a note.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import yaml
from matplotlib.figure import Figure

from acdc_core.config import parse_config
from report.figures import (
    TITLES,
    plot_admitted,
    plot_assessment,
    plot_exploration,
    plot_fitness_coverage,
    plot_lineage,
    plot_skill_heatmap,
    plot_task_map,
    plot_vendi,
    project_tasks,
)
from storage.queries import (
    admitted_frame,
    assessment_coverage_frame,
    best_of_n_frame,
    exploration_frame,
    fitness_coverage_frame,
    global_coverage_frame,
    lineage_edges_frame,
    lineage_nodes_frame,
    open_run,
    run_config_yaml,
    run_headline,
    skill_cluster_frame,
    task_embeddings_frame,
    transfer_frame,
    vendi_frame,
)


def solved_threshold(con: duckdb.DuckDBPyConnection) -> float:
    """The run's ``evaluation.solved_threshold`` (score at which an instance counts as solved)."""
    return coverage_rule(con)["threshold"]


def coverage_rule(con: duckdb.DuckDBPyConnection) -> dict:
    """How the run counts the task history as covered, as the keyword arguments of
    :func:`storage.queries.global_coverage_frame`: ``threshold`` (``evaluation.solved_threshold``),
    ``sample`` (``evaluation.retired_sample``) and ``seed`` (``run.seed``)."""
    text = run_config_yaml(con)
    cfg = parse_config(yaml.safe_load(text) if text else None, check_paths=False)
    return {"threshold": cfg.evaluation.solved_threshold, "sample": cfg.evaluation.retired_sample, "seed": cfg.run.seed}


def summary_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Headline numbers of the run: columns ``item``, ``value`` (strings), one row each."""
    h = run_headline(con)
    last, metrics = h["last_generation"], h["metrics"]
    cov = global_coverage_frame(con, **coverage_rule(con))
    rows = [
        ("run", f"{h['run_name']} ({h['run_id']})" if h["run_id"] else "?"),
        ("generations committed", "none" if last is None else f"{last + 1} (0 to {last})"),
        ("models created", h["models_created"]),
        ("final archive size", h["archive_size"]),
        ("task families ever admitted (active now)", f"{h['tasks_history']} ({h['tasks_active']})"),
        ("task instances in the history", h["instances_history"]),
        ("final best fitness", _fmt(h["best_fitness"])),
        ("final cumulative Vendi score", _fmt(metrics.get("vendi_cumulative"))),
        ("final global synthetic coverage (whole task history)", _fmt(cov["coverage"].iloc[-1] if len(cov) else None)),
        ("final coverage of the whole task history by the seeds alone", _fmt(metrics.get("coverage_history_seeds"))),
        ("history instances the final archive solves and no seed does", _fmt_int(metrics.get("history_beyond_seeds"))),
        ("final coverage of the active pool (instances)", _fmt(metrics.get("coverage_active"))),
        ("final distinct skill vectors in the archive", _fmt_int(metrics.get("distinct_skill_vectors"))),
        ("final coverage of the held-out instances (never selected on)", _fmt(metrics.get("coverage_heldout"))),
        ("the same by the seeds alone", _fmt(metrics.get("coverage_heldout_seeds"))),
        ("instances solved by a child and no parent (all generations)", _fmt_int(h["children_new_instances"])),
        ("share of those no parent solves when re-sampled", _fmt(h["new_survive_share"])),
    ]
    return pd.DataFrame(rows, columns=["item", "value"]).astype(str)


def task_map_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The task map's points: :func:`report.figures.project_tasks` of the run's embeddings."""
    return project_tasks(task_embeddings_frame(con))


def _fmt(value: float | None) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{value:.3f}"


def _fmt_int(value: float | None) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{value:.0f}"


@dataclass
class Section:
    """One report section: a figure (or, when there is nothing to draw, a note) plus HTML."""

    slug: str
    caption: str
    figure: Figure | None = None
    note: str | None = None
    extra_html: str = ""

    @property
    def title(self) -> str:
        return TITLES[self.slug]


def _section(slug: str, frame: pd.DataFrame, plot: Callable[[pd.DataFrame], Figure], caption: str,
             empty_note: str) -> Section:
    if frame.empty:
        return Section(slug, caption, note=empty_note)
    return Section(slug, caption, figure=plot(frame))


def build_sections(con: duckdb.DuckDBPyConnection, run_dir: Path) -> list[Section]:
    """Every section of the report, in page order."""
    rule = coverage_rule(con)
    thr = rule["threshold"]
    fc = fitness_coverage_frame(con, **rule)
    cov = global_coverage_frame(con, **rule)
    cov_note = (f" At the last generation {cov['n_evaluated'].iloc[-1]} of {cov['n_instances'].iloc[-1]} "
                "history instances had been answered by some archive model." if len(cov) else "")
    nodes, edges = lineage_nodes_frame(con), lineage_edges_frame(con)
    bon = best_of_n_frame(con)
    return [
        _section("fitness_coverage", fc, plot_fitness_coverage,
                 "Fitness and coverage of the active pool are the run's own metrics (instances; the dotted line "
                 "counts task families solved on average). "
                 f"Global coverage counts every instance of every task family admitted up to that generation, "
                 f"solved when a model of that generation's archive scored >= {thr:g} on it; the seeds' line is "
                 "the same share for the seed models, which answer every admitted task too." + cov_note,
                 "no generation committed yet"),
        _section("vendi", vendi_frame(con), plot_vendi,
                 "Vendi score (cosine kernel on task embeddings) of every task ever admitted and of the "
                 "active pool; the dotted counts show how many families each Vendi score is drawn from.",
                 "no Vendi scores recorded (no task embeddings in this run)"),
        _section("admitted", admitted_frame(con), plot_admitted,
                 "Children bred per generation, those the gibberish filter rejected, and those the DNS "
                 "archive admitted (generation 0: the initial mutants of the seeds).",
                 "no generation committed yet"),
        _section("exploration", exploration_frame(con), plot_exploration,
                 "Children are compared with their parents on the instances all of them answered: an instance "
                 "a child solves and none of its parents solves is what merging and mutation are for (table "
                 "child_effects has them per child).", "not recorded by this run"),
        Section("lineage", "Every model created, placed at its generation; edges join parents to children.",
                figure=plot_lineage(nodes, edges) if len(nodes) else None, note="no models recorded"),
        _section("skill_heatmap", skill_cluster_frame(con), plot_skill_heatmap,
                 "Mean per-family score of each final-archive model over the families of each task cluster "
                 "(task history, clusters of the last generation).", "no task clusters recorded"),
        _section("task_map", task_map_frame(con), plot_task_map,
                 "Every embedded task family of the history, projected to 2-D by t-SNE (distances are only "
                 "meaningful locally); the colours are the run's own HDBSCAN clusters.",
                 "skipped: fewer than 3 task families have embeddings"),
        _transfer_section(con, run_dir),
        _assessment_section(con, run_dir, bon),
    ]


def _transfer_section(con: duckdb.DuckDBPyConnection, run_dir: Path) -> Section:
    df = transfer_frame(con)
    caption = ("Coverage of the held-out instances (drawn from each admitted family's own generator on another "
               "seed; nothing selects on them) and of the task history, by task forces chosen on the history, "
               "the seeds, the best seed sampled N times at T=0.7 and the archive.  task_force_heldout_N is "
               "chosen on one half of the held-out instances and counted on the other.")
    if df.empty:
        return Section("transfer", caption,
                       note=f"not checked yet: run <code>acdc transfer --run-dir {html.escape(str(run_dir))}</code>")
    return Section("transfer", caption, note="", extra_html=_html_table(df))


def _assessment_section(con: duckdb.DuckDBPyConnection, run_dir: Path, bon: pd.DataFrame) -> Section:
    cov = assessment_coverage_frame(con)
    caption = ("Coverage of held-out benchmarks by the task force and by the baseline model sets, "
               "with 95% percentile-bootstrap intervals over items.")
    if cov.empty:
        note = f"not assessed yet: run <code>acdc assess --run-dir {html.escape(str(run_dir))}</code>"
        return Section("assessment", caption, note=note)
    extra = ("<h3>Coverage, 95% interval, and p-value that the task force of the same N beats the set "
             "(Holm-adjusted over every comparison of the assessment)</h3>"
             + _coverage_table(cov))
    if len(bon):
        extra += "<h3>Best-of-N, majority vote and best single model</h3>" + _bon_table(bon)
    return Section("assessment", caption, figure=plot_assessment(cov), extra_html=extra)


def _coverage_table(cov: pd.DataFrame) -> str:
    """Rows = model sets, one column per benchmark, cells 'value [ci_low, ci_high] p=... (Holm ...)'."""
    def cell(r) -> str:
        ci = "" if pd.isna(r.ci_low) else f" [{r.ci_low:.3f}, {r.ci_high:.3f}]"
        p = "" if pd.isna(r.p_value) else f" p={r.p_value:.3g}" + ("" if pd.isna(r.p_holm) else f" (Holm {r.p_holm:.3g})")
        return f"{r.value:.3f}{ci}{p}"

    wide = cov.assign(cell=cov.apply(cell, axis=1)).pivot(index="set_name", columns="benchmark", values="cell")
    return _html_table(wide.fillna("").reset_index().rename_axis(columns=None))


def _bon_table(bon: pd.DataFrame) -> str:
    """Rows (model set, metric), one column per benchmark, cells 'value [ci_low, ci_high]'."""
    ci = bon.apply(lambda r: "" if pd.isna(r.ci_low) else f" [{r.ci_low:.3f}, {r.ci_high:.3f}]", axis=1)
    cells = bon.assign(cell=bon["value"].map("{:.3f}".format) + ci)
    wide = cells.pivot(index=["set_name", "metric"], columns="benchmark", values="cell").fillna("")
    return _html_table(wide.reset_index().rename_axis(columns=None))


def _html_table(df: pd.DataFrame, header: bool = True) -> str:
    return df.to_html(index=False, header=header, float_format=lambda v: f"{v:.3f}", na_rep="", border=0,
                      classes="data")


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=130, bbox_inches="tight")
    return buf.getvalue()


_CSS = """body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}
table.data{border-collapse:collapse}table.data td,table.data th{padding:2px 10px;border-bottom:1px solid #ddd;
text-align:left}img{max-width:100%}.note{color:#a35;font-style:italic}.caption{color:#555}"""


def render_html(summary: pd.DataFrame, sections: list[Section], pngs: dict[str, bytes], run_dir: Path) -> str:
    """The page: summary table, then per section a heading, caption and embedded PNG or note."""
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>AC/DC report: "
             f"{html.escape(str(run_dir))}</title><style>{_CSS}</style></head><body>",
             f"<h1>AC/DC run report</h1><p class='caption'>{html.escape(str(run_dir))}</p>",
             _html_table(summary, header=False)]
    for s in sections:
        parts.append(f"<h2 id='{s.slug}'>{html.escape(s.title)}</h2><p class='caption'>{html.escape(s.caption)}</p>")
        if s.slug in pngs:
            data = base64.b64encode(pngs[s.slug]).decode()
            parts.append(f"<img alt='{html.escape(s.title)}' src='data:image/png;base64,{data}'>")
        else:
            parts.append(f"<p class='note'>{s.note}</p>")
        parts.append(s.extra_html)
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(run_dir: str | Path, out_dir: str | Path | None = None) -> Path:
    """Write ``report.html`` (self-contained: figures as base64 PNG data URIs) and one
    ``<figure>.png`` per drawn figure into ``out_dir`` (default ``<run_dir>/report``).

    Returns: the path of ``report.html``.
    Raises:
        FileNotFoundError: ``run_dir`` holds no ``acdc.duckdb``.
    """
    run_dir = Path(run_dir)
    out = Path(out_dir) if out_dir is not None else run_dir / "report"
    with open_run(run_dir) as con:
        summary = summary_frame(con)
        sections = build_sections(con, run_dir)
    out.mkdir(parents=True, exist_ok=True)
    pngs = {s.slug: _png(s.figure) for s in sections if s.figure is not None}
    for slug, data in pngs.items():
        (out / f"{slug}.png").write_bytes(data)
    path = out / "report.html"
    path.write_text(render_html(summary, sections, pngs, run_dir))
    return path
