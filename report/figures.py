"""The report's figures: each takes the frame of a :mod:`storage.queries` function and returns
a matplotlib ``Figure``, built on the object API (rendered by Agg when saved), never through
pyplot, so no display is needed and a notebook's backend is left alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
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
    "transfer": "What holds outside the pool: held-out instances of the admitted families",
}
ARM_COLOURS = [f"tab:{c}" for c in ("blue", "orange", "green", "red", "purple", "brown", "pink", "gray")]
ORIGIN_MARKERS = {"seed": "o", "harder": "^", "easier": "v", "novel_related": "s", "novel_new": "D"}


def short_id(model_id: str) -> str:
    """The first ``ID_CHARS`` characters of a content-hash id."""
    return str(model_id)[:ID_CHARS]


def project_tasks(embedded: pd.DataFrame) -> pd.DataFrame:
    """Task embeddings (:func:`storage.queries.task_embeddings_frame`) projected to 2-D by t-SNE
    (cosine distance, PCA init, seed 0, perplexity min(10, (n - 1) / 3) < n).

    Returns: the frame without ``embedding``, plus ``x``, ``y`` (t-SNE coordinates, arbitrary
    units).  Empty when fewer than 3 tasks are embedded.
    """
    if len(embedded) < 3:
        return pd.DataFrame()
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    df = embedded.copy()
    tsne = TSNE(n_components=2, perplexity=min(10.0, (len(df) - 1) / 3), metric="cosine", init="pca",
                random_state=0)
    with threadpool_limits(1):  # its OpenMP threads stall for ~40 s on a busy 2-core machine
        xy = tsne.fit_transform(np.stack(df.pop("embedding").map(np.asarray)))
    df["x"], df["y"] = xy[:, 0], xy[:, 1]
    return df


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
    the active pool (metric), global coverage of the task history (instances) and coverage of
    the held-out instances, each by the archive and by the seeds."""
    fig = _generation_lines(df, {
        "best_fitness": ("best fitness (archive, active tasks)", "tab:blue", "-"),
        "mean_fitness": ("mean fitness (archive, active tasks)", "tab:blue", "--"),
        "coverage_active": ("coverage of the active pool's instances", "tab:orange", "-"),
        "task_coverage": ("coverage of active task families", "tab:orange", ":"),
        "global_coverage": ("global coverage: task-history instances solved\nby >= 1 archive model",
                            "tab:green", "-"),
        "coverage_history_seeds": ("the same, solved by >= 1 seed model", "tab:green", "--"),
        "coverage_heldout": ("held-out instances (never selected on)\nsolved by >= 1 archive model", "tab:purple", "-"),
        "coverage_heldout_seeds": ("the same, solved by >= 1 seed model", "tab:purple", "--"),
    }, TITLES["fitness_coverage"], "share (0-1)")
    fig.axes[0].set_ylim(-0.02, 1.02)
    fig.tight_layout()
    return fig


def plot_history_by_arm(df: pd.DataFrame) -> Figure:
    """One colour per arm (``scripts/evidence.py``): the share of the arm's task-history instances
    solved by >= 1 archive model (solid) and by >= 1 seed model (dashed), per generation.

    Args:
        df: columns ``arm``, ``generation``, ``archive``, ``seeds`` (shares 0-1).
    """
    fig = Figure(figsize=(9, 4.8))
    ax = fig.subplots()
    for (arm, rows), colour in zip(df.groupby("arm", sort=False), ARM_COLOURS):
        ax.plot(rows["generation"], rows["archive"], "-", marker="o", color=colour, label=f"{arm}: archive")
        ax.plot(rows["generation"], rows["seeds"], "--", color=colour, label=f"{arm}: seeds")
    ax.set_ylabel("share of task-history instances solved")
    ax.set_ylim(-0.02, 1.02)
    _integer_generations(ax, df["generation"])
    ax.set_title("Coverage of the whole task history per generation, by arm")
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


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
