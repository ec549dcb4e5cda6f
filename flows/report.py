"""``acdc report``: one self-contained HTML page (and a PNG per figure) showing a run.

Every figure has a data function (a read-only DuckDB connection in, a pandas frame out) and a
plot function (the frame in, a matplotlib Figure out), so the numbers can be tested without
drawing.  Figures are built on matplotlib's object API (``Figure``, rendered by Agg when saved),
never through pyplot, so no display is needed and a notebook's backend is left alone.  The run's
file is opened read-only and never migrated: a report of an older run (no assessment tables, no
embeddings, one generation) skips what it lacks with a note.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import yaml
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch

ID_CHARS = 8
MAX_LINEAGE_WIDTH_IN = 32.0  # inches; longer runs get narrower generations
TITLES = {
    "fitness_coverage": "Fitness and task coverage per generation",
    "vendi": "Task diversity (Vendi score) per generation",
    "admitted": "Models proposed and admitted per generation",
    "exploration": "What the children found: distinct skill vectors and new instances per generation",
    "lineage": "Evolution tree of the models",
    "skill_heatmap": "Skills of the final archive by task cluster",
    "task_map": "Task archive map (embeddings, t-SNE)",
    "assessment": "Task-force coverage vs baselines on benchmarks",
}
ORIGIN_MARKERS = {"seed": "o", "harder": "^", "easier": "v", "novel_related": "s", "novel_new": "D"}


def short_id(model_id: str) -> str:
    """The first ``ID_CHARS`` characters of a content-hash id."""
    return str(model_id)[:ID_CHARS]


@contextmanager
def open_run(run_dir: str | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Read-only connection to ``<run_dir>/acdc.duckdb`` (nothing is migrated or written).

    Raises:
        FileNotFoundError: the run folder has no DuckDB file.
    """
    path = Path(run_dir) / "acdc.duckdb"
    if not path.exists():
        raise FileNotFoundError(f"no run database at {path}")
    con = duckdb.connect(str(path), read_only=True)
    try:
        yield con
    finally:
        con.close()


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
    ).fetchall()[0][0])


def solved_threshold(con: duckdb.DuckDBPyConnection) -> float:
    """The run's ``evaluation.solved_threshold`` (score at which an instance counts as solved)."""
    from acdc_core.config import parse_config

    rows = con.execute("SELECT config_yaml FROM runs").fetchall()
    data = yaml.safe_load(rows[0][0]) if rows else None
    return parse_config(data, check_paths=False).evaluation.solved_threshold


# ---- data -----------------------------------------------------------------------------------
def _scalar(con: duckdb.DuckDBPyConnection, sql: str, *params):
    return con.execute(sql, list(params)).fetchall()[0][0]


def summary_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Headline numbers of the run: columns ``item``, ``value`` (strings), one row each."""
    run = con.execute("SELECT name, run_id FROM runs").fetchall()
    last = _scalar(con, "SELECT max(generation) FROM generations")
    vendi = _scalar(con, "SELECT max(value) FROM metrics WHERE generation = ? AND name = 'vendi_cumulative'", last)
    cov = global_coverage_frame(con)
    n_tasks = _scalar(con, "SELECT count(*) FROM task_families")
    n_active = _scalar(con, "SELECT count(*) FROM task_families WHERE active")
    rows = [
        ("run", f"{run[0][0]} ({run[0][1]})" if run else "?"),
        ("generations committed", "none" if last is None else f"{last + 1} (0 to {last})"),
        ("models created", _scalar(con, "SELECT count(*) FROM models")),
        ("final archive size", _scalar(con, "SELECT count(*) FROM archive WHERE generation = ?", last)),
        ("task families ever admitted (active now)", f"{n_tasks} ({n_active})"),
        ("task instances in the history", _scalar(con, "SELECT count(*) FROM task_instances")),
        ("final best fitness", _fmt(_scalar(con, "SELECT max(fitness) FROM archive WHERE generation = ?", last))),
        ("final cumulative Vendi score", _fmt(vendi)),
        ("final global synthetic coverage (whole task history)", _fmt(cov["coverage"].iloc[-1] if len(cov) else None)),
        ("final coverage of the active pool (instances)", _fmt(_scalar(
            con, "SELECT max(value) FROM metrics WHERE generation = ? AND name = 'coverage_active'", last))),
        ("final distinct skill vectors in the archive", _fmt_int(_scalar(
            con, "SELECT max(value) FROM metrics WHERE generation = ? AND name = 'distinct_skill_vectors'", last))),
        ("instances solved by a child and no parent (all generations)", _fmt_int(_scalar(
            con, "SELECT sum(value) FROM metrics WHERE name = 'children_new_instances'"))),
    ]
    return pd.DataFrame(rows, columns=["item", "value"]).astype(str)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{value:.3f}"


def _fmt_int(value: float | None) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{value:.0f}"


def global_coverage_frame(con: duckdb.DuckDBPyConnection, threshold: float | None = None) -> pd.DataFrame:
    """Global synthetic coverage per generation g: the share of the task history's instances
    (families with ``created_generation <= g``) that at least one model of the archive after g
    solves (score >= ``threshold``, default the run's); an instance no archive model was
    evaluated on counts as unsolved.

    Returns: one row per committed generation: ``generation``, ``n_instances``, ``n_evaluated``
    (instances some archive model answered), ``n_solved``, ``coverage`` (n_solved / n_instances, 0-1).
    """
    thr = solved_threshold(con) if threshold is None else threshold
    return con.execute("""
        WITH inst AS (
            SELECT g.generation, i.task_id, i.instance_id
            FROM generations g
            JOIN task_families f ON f.created_generation <= g.generation
            JOIN task_instances i USING (task_id)),
        best AS (
            SELECT inst.generation, inst.task_id, inst.instance_id,
                   count(e.score) AS n_eval, max(e.score) AS best
            FROM inst
            LEFT JOIN archive a ON a.generation = inst.generation
            LEFT JOIN evaluations e ON e.model_id = a.model_id AND e.task_id = inst.task_id
                                   AND e.instance_id = inst.instance_id
            GROUP BY ALL)
        SELECT generation, count(*)::INTEGER AS n_instances, count_if(n_eval > 0)::INTEGER AS n_evaluated,
               count_if(best >= ?)::INTEGER AS n_solved, count_if(best >= ?) / count(*) AS coverage
        FROM best GROUP BY generation ORDER BY generation
    """, [thr, thr]).df()


def metrics_frame(con: duckdb.DuckDBPyConnection, names: list[str]) -> pd.DataFrame:
    """``metrics`` in wide form: one row per generation (column ``generation``), one column per
    name of ``names`` that the run recorded (NaN where a generation lacks it)."""
    df = con.execute(
        "SELECT generation, name, value FROM metrics WHERE list_contains(?, name)", [names]
    ).df()
    wide = df.pivot(index="generation", columns="name", values="value") if len(df) else pd.DataFrame()
    return wide.reindex(columns=[n for n in names if n in wide.columns]).sort_index().reset_index()


def fitness_coverage_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per generation: ``best_fitness``, ``mean_fitness``, ``coverage_active`` (instances) and
    ``task_coverage`` (families) of the active pool (metrics), and ``global_coverage`` of the
    task history (:func:`global_coverage_frame`), all 0-1."""
    metrics = metrics_frame(con, ["best_fitness", "mean_fitness", "coverage_active", "task_coverage"])
    cov = global_coverage_frame(con)[["generation", "coverage"]].rename(columns={"coverage": "global_coverage"})
    if metrics.empty:
        return cov
    return metrics.merge(cov, on="generation", how="outer").sort_values("generation", ignore_index=True)


def vendi_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per generation: ``vendi_cumulative``, ``vendi_active`` (effective number of distinct
    tasks) and, when recorded, ``tasks_history`` and ``tasks_active`` (counts of task families)."""
    return metrics_frame(con, ["vendi_cumulative", "vendi_active", "tasks_history", "tasks_active"])


def admitted_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per generation (``generations`` table): ``n_candidates``, ``n_gibberish``, ``n_admitted``."""
    return con.execute(
        "SELECT generation, n_candidates, n_gibberish, n_admitted FROM generations ORDER BY generation"
    ).df()


def lineage_nodes_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per model: ``model_id``, ``operator``, ``generation`` (created), ``is_gibberish``,
    ``seed_name`` (seeds only), ``ever_archived``, ``in_final`` (archive after the last generation)."""
    return con.execute("""
        WITH last AS (SELECT max(generation) AS g FROM archive)
        SELECT m.model_id, m.operator, m.created_generation AS generation, m.is_gibberish,
               CASE WHEN m.operator = 'seed' THEN m.recipe->>'name' END AS seed_name,
               m.model_id IN (SELECT model_id FROM archive) AS ever_archived,
               m.model_id IN (SELECT model_id FROM archive, last WHERE generation = last.g) AS in_final
        FROM models m ORDER BY m.created_generation, m.model_id
    """).df()


def lineage_edges_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per (child, parent) pair: ``child_id``, ``parent_id``, ``operator``, ``generation``."""
    return con.execute(
        "SELECT child_id, parent_id, operator, generation FROM lineage ORDER BY generation, child_id, parent_id"
    ).df()


def skill_cluster_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Final archive x task clusters of the last clustered generation (-1 = HDBSCAN noise).

    Returns: one row per (model, cluster): ``model_id``, ``rank``, ``fitness``, ``cluster``,
    ``label`` (cluster name: most frequent capability), ``n_tasks`` (families in the cluster),
    ``n_scored`` (of them, evaluated on the model), ``score`` (mean of the model's per-family mean
    scores over the scored families, 0-1; NaN when none is scored).  Empty without clusters.
    """
    if not has_table(con, "task_clusters"):
        return pd.DataFrame()
    return con.execute("""
        WITH c AS (
            SELECT c.task_id, c.cluster, f.capability FROM task_clusters c JOIN task_families f USING (task_id)
            WHERE c.generation = (SELECT max(generation) FROM task_clusters)),
        labels AS (SELECT cluster, mode(coalesce(capability, '?')) AS label, count(*)::INTEGER AS n_tasks
                   FROM c GROUP BY cluster),
        fin AS (SELECT model_id, rank, fitness FROM archive
                WHERE generation = (SELECT max(generation) FROM archive))
        SELECT fin.model_id, fin.rank, fin.fitness, c.cluster, labels.label, labels.n_tasks,
               count(s.score)::INTEGER AS n_scored, avg(s.score) AS score
        FROM fin CROSS JOIN c JOIN labels USING (cluster)
        LEFT JOIN skill_vectors s ON s.model_id = fin.model_id AND s.task_id = c.task_id
        GROUP BY ALL ORDER BY fin.rank, c.cluster
    """).df()


def task_map_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Task embeddings projected to 2-D by t-SNE (cosine distance, PCA init, seed 0,
    perplexity min(10, (n - 1) / 3) < n).

    Returns: one row per embedded task family: ``task_id``, ``name``, ``origin``, ``active``,
    ``capability``, ``cluster`` (last clustered generation; -1 = noise or unclustered), ``x``,
    ``y`` (t-SNE coordinates, arbitrary units).  Empty when fewer than 3 tasks are embedded.
    """
    if not has_table(con, "task_embeddings"):
        return pd.DataFrame()
    clusters = ("(SELECT task_id, cluster FROM task_clusters WHERE generation = "
                "(SELECT max(generation) FROM task_clusters))") if has_table(con, "task_clusters") else \
        "(SELECT NULL::VARCHAR AS task_id, NULL::INTEGER AS cluster)"
    df = con.execute(f"""
        SELECT e.task_id, f.name, f.origin, f.active, f.capability, coalesce(c.cluster, -1) AS cluster, e.embedding
        FROM task_embeddings e JOIN task_families f USING (task_id) LEFT JOIN {clusters} c USING (task_id)
        ORDER BY f.created_generation, f.name
    """).df()
    if len(df) < 3:
        return pd.DataFrame()
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    tsne = TSNE(n_components=2, perplexity=min(10.0, (len(df) - 1) / 3), metric="cosine", init="pca",
                random_state=0)
    with threadpool_limits(1):  # its OpenMP threads stall for ~40 s on a busy 2-core machine
        xy = tsne.fit_transform(np.stack(df.pop("embedding").map(np.asarray)))
    df["x"], df["y"] = xy[:, 0], xy[:, 1]
    return df


def _latest_assessment(con: duckdb.DuckDBPyConnection, where: str) -> pd.DataFrame:
    if not has_table(con, "assessment_results"):
        return pd.DataFrame()
    return con.execute(f"""
        SELECT generation, set_name, benchmark, metric, value, ci_low, ci_high, p_value, n_items
        FROM assessment_results
        WHERE {where} AND generation = (SELECT max(generation) FROM assessment_results WHERE metric = 'coverage')
        ORDER BY benchmark, set_name, metric
    """).df()


def assessment_coverage_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """``assessment_results`` rows with metric 'coverage' at the latest assessed generation:
    ``generation``, ``set_name``, ``benchmark``, ``value``, ``ci_low``, ``ci_high`` (shares, 0-1),
    ``p_value``, ``n_items``.  Empty when the run was never assessed."""
    return _latest_assessment(con, "metric = 'coverage'")


def best_of_n_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Best-of-N rows (``bon_<method>``, ``majority_vote``, ``best_single``) at the latest
    assessed generation, same columns as :func:`assessment_coverage_frame` plus ``metric``."""
    return _latest_assessment(con, "(metric LIKE 'bon\\_%' ESCAPE '\\' OR metric IN ('majority_vote', 'best_single'))")


# ---- plots ----------------------------------------------------------------------------------
def _integer_generations(ax: Axes, generations: pd.Series) -> None:
    gens = sorted(int(g) for g in generations.unique())
    step = max(1, len(gens) // 15)
    ax.set_xticks(gens[::step])
    ax.set_xlim(min(gens) - 0.5, max(gens) + 0.5)
    ax.set_xlabel("generation")


def _generation_lines(df: pd.DataFrame, series: dict[str, tuple[str, str, str]], title: str, ylabel: str) -> Figure:
    """One line per ``series`` column present in ``df`` (label, colour, line style) against the
    generation, legend outside on the right; dotted lines carry no markers."""
    fig = Figure(figsize=(9, 4.8))
    ax = fig.subplots()
    for col, (label, colour, style) in series.items():
        if col in df.columns and df[col].notna().any():
            ax.plot(df["generation"], df[col], style, marker=None if style == ":" else "o", color=colour, label=label)
    ax.set_ylabel(ylabel)
    _integer_generations(ax, df["generation"])
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    return fig


def plot_fitness_coverage(df: pd.DataFrame) -> Figure:
    """Lines per generation on one 0-1 axis: best and mean fitness of the archive, coverage of
    the active pool (metric) and global coverage of the task history (instances)."""
    fig = _generation_lines(df, {
        "best_fitness": ("best fitness (archive, active tasks)", "tab:blue", "-"),
        "mean_fitness": ("mean fitness (archive, active tasks)", "tab:blue", "--"),
        "coverage_active": ("coverage of the active pool's instances", "tab:orange", "-"),
        "task_coverage": ("coverage of active task families", "tab:orange", ":"),
        "global_coverage": ("global coverage: task-history instances solved\nby >= 1 archive model",
                            "tab:green", "-"),
    }, TITLES["fitness_coverage"], "share (0-1)")
    fig.axes[0].set_ylim(-0.02, 1.02)
    fig.tight_layout()
    return fig


def exploration_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per generation: ``distinct_skill_vectors`` (archive), ``children_new_instances``
    (instances solved by a child and none of its parents), ``children_finding_new`` and
    ``n_candidates``; empty for a run that recorded none of them."""
    df = metrics_frame(con, ["distinct_skill_vectors", "children_new_instances", "children_finding_new", "n_candidates"])
    return df if {"children_new_instances", "distinct_skill_vectors"} & set(df.columns) else pd.DataFrame()


def plot_exploration(df: pd.DataFrame) -> Figure:
    """Counts per generation: distinct skill vectors of the archive, instances found by a child
    and no parent, children that found any, children bred."""
    fig = _generation_lines(df, {
        "distinct_skill_vectors": ("distinct skill vectors in the archive", "tab:purple", "-"),
        "children_new_instances": ("instances solved by a child and none of its parents", "tab:green", "-"),
        "children_finding_new": ("children that solve such an instance", "tab:green", "--"),
        "n_candidates": ("children bred", "tab:gray", ":"),
    }, TITLES["exploration"], "count")
    fig.tight_layout()
    return fig


def plot_vendi(df: pd.DataFrame) -> Figure:
    """Cumulative and active Vendi score per generation, next to the task-family counts."""
    fig = _generation_lines(df, {
        "vendi_cumulative": ("Vendi score, task history", "tab:purple", "-"),
        "vendi_active": ("Vendi score, active pool", "tab:red", "-"),
        "tasks_history": ("task families in the history (count)", "tab:purple", ":"),
        "tasks_active": ("active task families (count)", "tab:red", ":"),
    }, TITLES["vendi"], "effective number of distinct tasks\n(Vendi) / task families")
    fig.axes[0].set_ylim(bottom=0)
    fig.tight_layout()
    return fig


def plot_admitted(df: pd.DataFrame) -> Figure:
    """Grouped bars per generation: candidates bred, gibberish among them, admitted to the archive."""
    bars = [("n_candidates", "candidates", "tab:gray"), ("n_gibberish", "gibberish", "tab:red"),
            ("n_admitted", "admitted to the archive", "tab:green")]
    fig = Figure(figsize=(9, 4.2))
    ax = fig.subplots()
    width = 0.8 / len(bars)
    for i, (col, label, colour) in enumerate(bars):
        bars_drawn = ax.bar(df["generation"] + (i - 1) * width, df[col], width, label=label, color=colour)
        ax.bar_label(bars_drawn, fontsize=6.5, padding=1)
    ax.set_ylabel("models (count)")
    ax.set_ylim(0, max(1, df[[c for c, _, _ in bars]].to_numpy().max()) * 1.12)
    ax.yaxis.get_major_locator().set_params(integer=True)
    _integer_generations(ax, df["generation"])
    ax.set_title(TITLES["admitted"])
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


def lineage_layout(nodes: pd.DataFrame, edges: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """(x, y) per model id.  x = creation generation, + 0.4 for a model bred from a parent of
    its own generation (the initial mutants of the seeds); within a column, models are ordered
    by the mean height of their parents (fewer crossings) and spread evenly, centred on 0."""
    parents = edges.groupby("child_id")["parent_id"].apply(list).to_dict()
    gen = dict(zip(nodes["model_id"], nodes["generation"]))
    column = {m: gen[m] + (0.4 if any(gen.get(p) == gen[m] for p in parents.get(m, [])) else 0.0)
              for m in nodes["model_id"]}
    pos: dict[str, tuple[float, float]] = {}

    def height(mid: str) -> float:  # mean height of the parents already placed; seeds first
        ys = [pos[p][1] for p in parents.get(mid, []) if p in pos]
        return float(np.mean(ys)) if ys else -1e9

    for x in sorted(set(column.values())):
        ids = sorted((m for m in column if column[m] == x), key=lambda m: (height(m), m))
        for i, mid in enumerate(ids):
            pos[mid] = (float(x), i - (len(ids) - 1) / 2)
    return pos


def ancestry(model_ids: set[str], edges: pd.DataFrame) -> set[str]:
    """``model_ids`` and all their ancestors through ``edges`` (child_id, parent_id)."""
    parents = edges.groupby("child_id")["parent_id"].apply(list).to_dict()
    seen, todo = set(model_ids), list(model_ids)
    while todo:
        for p in parents.get(todo.pop(), []):
            if p not in seen:
                seen.add(p)
                todo.append(p)
    return seen


def _node_style(row) -> tuple[str, str]:
    colour = "tab:green" if row.in_final else ("tab:blue" if row.ever_archived else "lightgray")
    marker = "X" if row.is_gibberish else ("s" if row.operator == "seed" else "o")
    return colour, marker


def _draw_edges(ax: Axes, edges: pd.DataFrame, pos: dict, op_colour: dict, strong: set[str]) -> None:
    """Parent -> child arrows; arcs when they skip a generation (so they do not run through the
    models between), bold when the child is on the ancestry of the final archive."""
    for e in edges.itertuples():
        if e.child_id not in pos or e.parent_id not in pos:
            continue
        p0, p1 = pos[e.parent_id], pos[e.child_id]
        bold = e.child_id in strong
        ax.add_patch(FancyArrowPatch(
            p0, p1, connectionstyle=f"arc3,rad={0.0 if p1[0] - p0[0] <= 1 else -0.12}",
            arrowstyle="-|>", mutation_scale=7, shrinkA=6, shrinkB=6, color=op_colour[e.operator],
            lw=1.5 if bold else 0.7, alpha=0.9 if bold else 0.3, zorder=2 if bold else 1))


def _lineage_legend(ax: Axes, op_colour: dict) -> None:
    handles = [Line2D([], [], color=c, lw=2, label=f"operator: {op}") for op, c in op_colour.items()]
    handles += [Line2D([], [], color="gray", lw=1.5, label="bold: ancestry of the final archive"),
                Line2D([], [], color="gray", lw=0.7, alpha=0.4, label="faint: other edges")]
    handles += [Line2D([], [], ls="", marker="o", markersize=8, markeredgecolor="black", color=c, label=lab)
                for c, lab in (("tab:green", "in the final archive"), ("tab:blue", "archived earlier, not at the end"),
                               ("lightgray", "never archived"))]
    handles += [Line2D([], [], ls="", marker=m, markersize=8, color="white", markeredgecolor="black", label=lab)
                for m, lab in (("s", "seed"), ("X", "gibberish"))]
    ax.legend(handles=handles, fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def plot_lineage(nodes: pd.DataFrame, edges: pd.DataFrame) -> Figure:
    """Models as nodes (x = generation created; colour = archive membership; square = seed,
    X = gibberish), parent -> child arrows coloured by operator, labelled with 8-char ids (only
    the archived ones when a long run leaves too little room per generation)."""
    pos = lineage_layout(nodes, edges)
    tallest = max(sum(1 for p in pos.values() if p[0] == x) for x in {p[0] for p in pos.values()})
    n_gens = nodes["generation"].nunique()
    width = min(MAX_LINEAGE_WIDTH_IN, max(8.0, 1.35 * n_gens + 4))
    label_all = (width - 4) / n_gens >= 0.9  # room for an id under every model of a generation
    fig = Figure(figsize=(width, max(4.5, 1.1 * tallest + 2.5)))
    ax = fig.subplots()
    op_colour = {op: colormaps["Dark2"](i % 8) for i, op in enumerate(sorted(edges["operator"].unique()))}
    _draw_edges(ax, edges, pos, op_colour, ancestry(set(nodes.loc[nodes["in_final"], "model_id"]), edges))
    for row in nodes.itertuples():
        colour, marker = _node_style(row)
        x, y = pos[row.model_id]
        ax.scatter(x, y, s=110, c=colour, marker=marker, edgecolors="black", linewidths=0.6, zorder=3)
        if not (label_all or row.ever_archived):
            continue
        label = short_id(row.model_id) + (f"\n{row.seed_name}" if isinstance(row.seed_name, str) else "")
        ax.annotate(label, (x, y), xytext=(0, -8), textcoords="offset points", ha="center", va="top",
                    fontsize=6.5, family="monospace", zorder=4,
                    bbox=dict(boxstyle="square,pad=0.05", fc="white", ec="none", alpha=0.7))
    _lineage_legend(ax, op_colour)
    _integer_generations(ax, nodes["generation"])
    ax.set_xlabel("generation created (initial mutants of the seeds: right of generation 0)")
    ax.set_ylim(-tallest / 2 - 0.3, tallest / 2)
    ax.set_yticks([])
    ax.set_ylabel("models of a generation\n(ordered by their parents' height)")
    ax.set_title(TITLES["lineage"])
    for spine in ("top", "right", "left"):
        ax.spines[spine].set_visible(False)
    fig.tight_layout()
    return fig


def plot_skill_heatmap(df: pd.DataFrame) -> Figure:
    """Heatmap of mean score (0-1) per final-archive model (rows, best rank first) and task
    cluster (columns, noise last), each cell annotated; grey = no scored task in the cluster."""
    clusters = sorted(df["cluster"].unique(), key=lambda c: (c < 0, c))
    info = df.drop_duplicates("cluster").set_index("cluster")
    models = df.drop_duplicates("model_id").sort_values("rank")
    grid = df.pivot(index="model_id", columns="cluster", values="score").loc[models["model_id"], clusters]
    fig = Figure(figsize=(max(6.0, 1.3 * len(clusters) + 4), max(3.0, 0.45 * len(models) + 2)))
    ax = fig.subplots()
    cmap = colormaps["viridis"].with_extremes(bad="lightgray")
    im = ax.imshow(np.ma.masked_invalid(grid.to_numpy(dtype=float)), cmap=cmap, vmin=0, vmax=1, aspect="auto")
    for (i, j), v in np.ndenumerate(grid.to_numpy(dtype=float)):
        ax.text(j, i, "-" if np.isnan(v) else f"{v:.2f}", ha="center", va="center", fontsize=8,
                color="black" if np.isnan(v) or v > 0.6 else "white")
    ax.set_xticks(range(len(clusters)), [
        f"{'noise' if c < 0 else f'cluster {c}'}\n{info.loc[c, 'label']}\n({info.loc[c, 'n_tasks']} tasks)"
        for c in clusters], fontsize=8)
    ax.set_yticks(range(len(models)), [f"{short_id(r.model_id)}  rank {r.rank}, fitness {r.fitness:.2f}"
                                       for r in models.itertuples()], fontsize=8, family="monospace")
    ax.set_xlabel("task cluster (HDBSCAN on task embeddings, last generation;\nlabel = most frequent capability)")
    ax.set_ylabel("final archive model")
    fig.colorbar(im, ax=ax, label="mean score over the cluster's tasks (0-1)")
    ax.set_title(TITLES["skill_heatmap"])
    fig.tight_layout()
    return fig


def _label_above(x: np.ndarray, y: np.ndarray) -> list[bool]:
    """Per point: put its label above, unless a neighbour sits just above it (within 12% of the
    x range and 6% of the y range), where the label goes below instead."""
    dx, dy = np.ptp(x) * 0.12 or 1.0, np.ptp(y) * 0.06 or 1.0
    return [not np.any((np.abs(x - xi) < dx) & (y > yi) & (y - yi < dy)) for xi, yi in zip(x, y)]


def plot_task_map(df: pd.DataFrame) -> Figure:
    """Scatter of the task embeddings' t-SNE projection, each point named: colour = last HDBSCAN
    cluster (grey = noise), marker = origin, filled = active, hollow = retired."""
    fig = Figure(figsize=(11, 7.5))
    ax = fig.subplots()
    clusters = sorted(df["cluster"].unique(), key=lambda c: (c < 0, c))
    colour = {c: ("darkgray" if c < 0 else colormaps["tab10"](i % 10)) for i, c in enumerate(clusters)}
    for (origin, active), group in df.groupby(["origin", "active"]):
        cols = [colour[c] for c in group["cluster"]]
        ax.scatter(group["x"], group["y"], s=60, marker=ORIGIN_MARKERS.get(origin, "P"), linewidths=1.4,
                   facecolors=cols if active else "none", edgecolors=cols if not active else "black", zorder=3)
    for r, above in zip(df.itertuples(), _label_above(df["x"].to_numpy(), df["y"].to_numpy())):
        ax.annotate(r.name, (r.x, r.y), xytext=(0, 6 if above else -7), textcoords="offset points", ha="center",
                    va="bottom" if above else "top", fontsize=6, color="black" if r.active else "dimgray", zorder=4)
    ax.set_xlabel("t-SNE dimension 1 (arbitrary units; near = similar task embeddings)")
    ax.set_ylabel("t-SNE dimension 2 (arbitrary units)")
    ax.set_title(TITLES["task_map"])
    ax.margins(0.12, 0.06)
    ax.grid(alpha=0.3)
    labels = df.groupby("cluster")["capability"].agg(lambda s: s.fillna("?").mode().iloc[0])
    cluster_handles = [Line2D([], [], ls="", marker="o", markersize=8, color=colour[c],
                              label=f"{'noise' if c < 0 else f'cluster {c}'} ({labels[c]})") for c in clusters]
    origin_handles = [Line2D([], [], ls="", marker=ORIGIN_MARKERS.get(o, "P"), markersize=8, color="dimgray",
                             label=f"origin: {o}") for o in sorted(df["origin"].unique())]
    state_handles = [Line2D([], [], ls="", marker="o", markersize=8, color="dimgray", markeredgecolor="black",
                            label="active (filled)"),
                     Line2D([], [], ls="", marker="o", markersize=8, markerfacecolor="none",
                            markeredgecolor="dimgray", label="retired (hollow)")]
    ax.legend(handles=cluster_handles + origin_handles + state_handles, fontsize=8, frameon=False,
              loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


def plot_assessment(df: pd.DataFrame) -> Figure:
    """One panel per benchmark (the mean over benchmarks last): a horizontal bar per model set,
    coverage (0-1) with its 95% bootstrap interval; task forces in colour, baselines in grey."""
    benchmarks = sorted(b for b in df["benchmark"].unique() if b != "all") + (["all"] if (df["benchmark"] == "all").any() else [])
    sets = sorted(df["set_name"].unique(), key=lambda s: (not s.startswith("task_force"), s))
    colours = ["tab:orange" if s.startswith("task_force_greedy") else "tab:red" if s.startswith("task_force")
               else "tab:purple" if s.startswith("reference") else "0.6" for s in sets]
    fig = Figure(figsize=(2.6 * len(benchmarks) + 2.2, 0.32 * len(sets) + 1.6))
    axes = np.atleast_1d(fig.subplots(1, len(benchmarks), sharey=True))
    y = np.arange(len(sets))
    for ax, bench in zip(axes, benchmarks):
        rows = df[df["benchmark"] == bench].set_index("set_name").reindex(sets)
        lo = (rows["value"] - rows["ci_low"]).clip(lower=0).fillna(0)
        hi = (rows["ci_high"] - rows["value"]).clip(lower=0).fillna(0)
        ax.barh(y, rows["value"], xerr=[lo, hi], color=colours, capsize=2, error_kw={"elinewidth": 0.8})
        ax.set_xlim(0, 1)
        ax.set_title("mean over benchmarks" if bench == "all" else f"{bench} ({int(rows['n_items'].max())} items)",
                     fontsize=9)
        ax.set_xlabel("coverage (0-1)", fontsize=8)
        ax.grid(axis="x", alpha=0.3)
        ax.tick_params(labelsize=8)
    axes[0].set_yticks(y, sets)
    axes[0].invert_yaxis()
    fig.suptitle(f"{TITLES['assessment']} (generation {int(df['generation'].iloc[0])}; "
                 "orange/red: task forces, purple: reference model, grey: baselines; bars: 95% CI)", fontsize=10)
    fig.tight_layout()
    return fig


# ---- HTML -----------------------------------------------------------------------------------
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
    thr = solved_threshold(con)
    fc = fitness_coverage_frame(con)
    cov = global_coverage_frame(con, thr)
    cov_note = (f" At the last generation {cov['n_evaluated'].iloc[-1]} of {cov['n_instances'].iloc[-1]} "
                "history instances had been answered by some archive model." if len(cov) else "")
    nodes, edges = lineage_nodes_frame(con), lineage_edges_frame(con)
    bon = best_of_n_frame(con)
    return [
        _section("fitness_coverage", fc, plot_fitness_coverage,
                 "Fitness and coverage of the active pool are the run's own metrics (instances; the dotted line "
                 "counts task families solved on average). "
                 f"Global coverage counts every instance of every task family admitted up to that generation, "
                 f"solved when a model of that generation's archive scored >= {thr:g} on it." + cov_note,
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
        _assessment_section(con, run_dir, bon),
    ]


def _assessment_section(con: duckdb.DuckDBPyConnection, run_dir: Path, bon: pd.DataFrame) -> Section:
    cov = assessment_coverage_frame(con)
    caption = ("Coverage of held-out benchmarks by the task force and by the baseline model sets, "
               "with 95% percentile-bootstrap intervals over items.")
    if cov.empty:
        note = f"not assessed yet: run <code>acdc assess --run-dir {html.escape(str(run_dir))}</code>"
        return Section("assessment", caption, note=note)
    extra = ("<h3>Coverage, 95% interval, and p-value that the task force of the same N beats the set</h3>"
             + _coverage_table(cov))
    if len(bon):
        extra += "<h3>Best-of-N, majority vote and best single model</h3>" + _bon_table(bon)
    return Section("assessment", caption, figure=plot_assessment(cov), extra_html=extra)


def _coverage_table(cov: pd.DataFrame) -> str:
    """Rows = model sets, one column per benchmark, cells 'value [ci_low, ci_high] p=...'."""
    def cell(r) -> str:
        ci = "" if pd.isna(r.ci_low) else f" [{r.ci_low:.3f}, {r.ci_high:.3f}]"
        p = "" if pd.isna(r.p_value) else f" p={r.p_value:.3g}"
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
