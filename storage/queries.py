"""Every read-only SQL query of the project over a run's DuckDB file: the report's, ``acdc
status``'s and the run summary's, the views the notebook shares with the report, and the reads of
the generation steps and commands (which call them through :meth:`storage.db.RunDB.read`).

Each function takes a connection (a read-only one from :func:`open_run`, or the run writer's) and
returns plain values or a pandas frame; nothing here migrates or writes, so a finished run, a run
in progress (between commits) and a run of an older version (the report skips tables it lacks) can
all be read.  Every write is :class:`storage.db.RunDB`'s.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from storage.connection import DB_FILE, connect
from storage.schema import ASSESSMENT_COLUMNS, TABLE_COLUMNS


@contextmanager
def open_run(run_dir: str | Path, lock_timeout_s: float = 600.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """Read-only connection to the run database in ``run_dir`` (nothing is migrated or written);
    while a run's commit holds the file it waits, up to ``lock_timeout_s`` seconds.

    Raises:
        FileNotFoundError: the run folder has no DuckDB file.
    """
    with connect(Path(run_dir) / DB_FILE, True, lock_timeout_s) as con:
        yield con


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the run's file has table ``name`` (a run of an older version may lack it)."""
    return bool(con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
    ).fetchall()[0][0])


def run_config_yaml(con: duckdb.DuckDBPyConnection) -> str | None:
    """The run's frozen config as YAML (``runs.config_yaml``), None before the run is created."""
    rows = con.execute("SELECT config_yaml FROM runs").fetchall()
    return rows[0][0] if rows else None


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, *params):
    return con.execute(sql, list(params)).fetchall()[0][0]


def run_headline(con: duckdb.DuckDBPyConnection) -> dict:
    """Where the run stands, as raw numbers (None where a run has nothing yet, or is older than
    a metric): ``run_name``, ``run_id``, ``last_generation`` (None before generation 0 commits),
    ``models_created``, ``archive_size``, ``best_fitness`` (of the last archive), ``tasks_history``
    and ``tasks_active`` (task families), ``instances_history``, ``children_new_instances``
    (summed over generations), ``new_survive_share`` (of the instances children found, per
    child, the share no parent solved when re-sampled; None without a noise floor), and the last
    generation's ``metrics`` by name."""
    run = con.execute("SELECT name, run_id FROM runs").fetchall()
    last = _scalar(con, "SELECT max(generation) FROM generations")
    return {
        "run_name": run[0][0] if run else None,
        "run_id": run[0][1] if run else None,
        "last_generation": last,
        "models_created": _scalar(con, "SELECT count(*) FROM models"),
        "archive_size": _scalar(con, "SELECT count(*) FROM archive WHERE generation = ?", last),
        "best_fitness": _scalar(con, "SELECT max(fitness) FROM archive WHERE generation = ?", last),
        "tasks_history": _scalar(con, "SELECT count(*) FROM task_families"),
        "tasks_active": _scalar(con, "SELECT count(*) FROM task_families WHERE active"),
        "instances_history": _scalar(con, "SELECT count(*) FROM task_instances"),
        "children_new_instances": _scalar(con, "SELECT sum(value) FROM metrics WHERE name = 'children_new_instances'"),
        "new_survive_share": _scalar(con, "SELECT avg((parent_solved = 0)::INTEGER) FROM noise_floor")
        if has_table(con, "noise_floor") else None,
        "metrics": dict(con.execute("SELECT name, value FROM metrics WHERE generation = ?", [last]).fetchall()),
    }


# The retired instances of the history at a generation (families out of the pool by then; one
# retired before schema 9 counts from its creation), each with its draw: its rank by the md5 of the
# run seed and its key.  The first ``evaluation.retired_sample`` draws are the sample admitted
# children answer.  A later generation's retired set holds an earlier one, and an instance among
# the first k draws of a set is among the first k of every subset holding it: so every model of an
# archive has answered that generation's sample (each instance either while its family was active
# or, retired before, as part of the sample it was asked at admission).
# Parameters: the seed, the generation (NULL: now).
_RETIRED_DRAWS = """
    SELECT i.task_id, i.instance_id,
           row_number() OVER (ORDER BY md5(CAST(? AS VARCHAR) || '/' || i.task_id || '/' || i.instance_id)) AS draw
    FROM task_instances i JOIN task_families f USING (task_id)
    WHERE NOT f.active AND coalesce(f.retired_generation, f.created_generation) <= coalesce(?, 2147483647)
"""


@dataclass(frozen=True)
class HistoryCoverage:
    """What some models solve of the task history, with its retired part known on a sample.

    Keys are "task_id/instance_id".  ``solved``: instances one of the models scored >= the
    threshold; ``retired``: the instances of retired families; ``sampled``: the retired ones in
    the sample (all of ``retired`` when unsampled).
    """

    n_instances: int
    n_evaluated: int  # instances one of the models answered
    solved: frozenset[str]
    retired: frozenset[str]
    sampled: frozenset[str]

    def estimate(self, keys: frozenset[str] | set[str] | None = None, z: float = 1.96) -> tuple[float, float, float]:
        """(count, low, high) of the history's instances in ``keys`` (default: ``solved``): exact
        outside the retired part; in it, the sample's share scaled to the retired instances, with
        the Wilson interval at ``z`` (1.96: 95%) under the finite population correction, clamped
        to what the sample proves (low >= the sample's count, high <= it plus the unsampled).
        Exact (low = count = high) when the sample is the whole retired part."""
        keys = self.solved if keys is None else frozenset(keys)
        exact = len(keys - self.retired)
        big, n, s = len(self.retired), len(self.sampled), len(keys & self.sampled)
        if n == big:
            return float(exact + s), float(exact + s), float(exact + s)
        if n == 0:
            return float(exact), float(exact), float(exact + big)
        p, n_eff = s / n, n * (big - 1) / (big - n)
        denom = 1 + z * z / n_eff
        centre = (p + z * z / (2 * n_eff)) / denom
        half = z * math.sqrt(p * (1 - p) / n_eff + z * z / (4 * n_eff * n_eff)) / denom
        return (exact + big * p, exact + max(s, big * (centre - half)),
                exact + min(s + big - n, big * (centre + half)))


def history_coverage(con: duckdb.DuckDBPyConnection, model_ids: list[str], threshold: float,
                     generation: int | None = None, sample: int | None = None, seed: int = 0) -> HistoryCoverage:
    """Coverage of the task history by ``model_ids``: the one definition of it, used by the
    generation's commit (metrics ``coverage_history`` with ``_lo`` and ``_hi``,
    ``coverage_history_seeds``, ``history_beyond_seeds``) and by :func:`global_coverage_frame`.

    The history is every instance of the families created at or before ``generation`` (default:
    all); an instance counts as solved when at least one of ``model_ids`` scored it
    >= ``threshold`` (the run's ``evaluation.solved_threshold``), unsolved when none answered it.
    Its retired part (families retired at or before ``generation``) is known on the first
    ``sample`` draws of ``seed`` (``evaluation.retired_sample`` and ``run.seed``; None: all of it),
    as admitted children answer only those (:func:`retired_tasks`).
    """
    rows = con.execute(f"""
        WITH retired AS ({_RETIRED_DRAWS})
        SELECT i.task_id || '/' || i.instance_id AS key, r.draw IS NOT NULL AS is_retired,
               coalesce(r.draw <= ?, r.draw IS NOT NULL) AS is_sampled,
               count(e.score) AS n_eval, max(e.score) AS best
        FROM task_instances i
        JOIN task_families f USING (task_id)
        LEFT JOIN retired r USING (task_id, instance_id)
        LEFT JOIN evaluations e ON e.task_id = i.task_id AND e.instance_id = i.instance_id
                               AND list_contains(?, e.model_id)
        WHERE ? IS NULL OR f.created_generation <= ?
        GROUP BY ALL
    """, [seed, generation, sample, model_ids, generation, generation]).fetchall()
    return HistoryCoverage(
        n_instances=len(rows), n_evaluated=sum(1 for *_, n, _ in rows if n),
        solved=frozenset(k for k, *_, best in rows if best is not None and best >= threshold),
        retired=frozenset(k for k, retired, *_ in rows if retired),
        sampled=frozenset(k for k, _, sampled, *_ in rows if sampled))


def global_coverage_frame(con: duckdb.DuckDBPyConnection, threshold: float, sample: int | None = None,
                          seed: int = 0) -> pd.DataFrame:
    """Global synthetic coverage per generation g: :func:`history_coverage` of the archive after
    g over the task history up to g (families with ``created_generation <= g``), its retired
    part estimated on the sample (``sample``, ``seed``: the run's ``evaluation.retired_sample``
    and ``run.seed``).

    Returns: one row per committed generation: ``generation``, ``n_instances``, ``n_evaluated``
    (instances some archive model answered), ``n_solved`` (estimated), ``coverage`` (n_solved /
    n_instances, 0-1) and its 95% interval ``coverage_lo``, ``coverage_hi``.
    """
    columns = ["generation", "n_instances", "n_evaluated", "n_solved", "coverage", "coverage_lo", "coverage_hi"]
    rows = []
    for (g,) in con.execute("SELECT generation FROM generations ORDER BY generation").fetchall():
        archive = [r[0] for r in con.execute("SELECT model_id FROM archive WHERE generation = ?", [g]).fetchall()]
        cov = history_coverage(con, archive, threshold, g, sample, seed)
        n = cov.n_instances or 1
        solved, lo, hi = cov.estimate()
        rows.append(dict(zip(columns, (g, cov.n_instances, cov.n_evaluated, solved, solved / n, lo / n, hi / n))))
    return pd.DataFrame(rows, columns=columns)


def generation_metrics(con: duckdb.DuckDBPyConnection, generation: int) -> dict[str, float]:
    """The ``metrics`` of one generation by name (empty when it is not committed)."""
    return dict(con.execute("SELECT name, value FROM metrics WHERE generation = ? ORDER BY name", [generation]).fetchall())


def metrics_frame(con: duckdb.DuckDBPyConnection, names: list[str]) -> pd.DataFrame:
    """``metrics`` in wide form: one row per generation (column ``generation``), one column per
    name of ``names`` that the run recorded (NaN where a generation lacks it)."""
    df = con.execute(
        "SELECT generation, name, value FROM metrics WHERE list_contains(?, name)", [names]
    ).df()
    wide = df.pivot(index="generation", columns="name", values="value") if len(df) else pd.DataFrame()
    return wide.reindex(columns=[n for n in names if n in wide.columns]).sort_index().reset_index()


def fitness_coverage_frame(con: duckdb.DuckDBPyConnection, threshold: float, sample: int | None = None,
                           seed: int = 0) -> pd.DataFrame:
    """Per generation: ``best_fitness``, ``mean_fitness``, ``coverage_active`` (instances) and
    ``task_coverage`` (families) of the active pool (metrics), ``global_coverage`` of the
    task history (:func:`global_coverage_frame` with ``sample`` and ``seed``) and ``coverage_history_seeds``, the seeds' share
    of it, ``coverage_heldout`` and ``coverage_heldout_seeds``, the archive's and the seeds' share
    of the held-out instances (metrics; absent in runs older than them), all 0-1."""
    metrics = metrics_frame(con, ["best_fitness", "mean_fitness", "coverage_active", "task_coverage",
                                  "coverage_history_seeds", "coverage_heldout", "coverage_heldout_seeds"])
    cov = global_coverage_frame(con, threshold, sample, seed)[["generation", "coverage"]].rename(columns={"coverage": "global_coverage"})
    if metrics.empty:
        return cov
    return metrics.merge(cov, on="generation", how="outer").sort_values("generation", ignore_index=True)


def transfer_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The latest ``acdc transfer``: ``set_name``, ``n``, ``coverage_heldout``, ``coverage_history``
    (0-1), ``n_heldout``, ``n_history``, best held-out coverage first; empty when never run."""
    if not has_table(con, "transfer_results"):
        return pd.DataFrame()
    return con.execute(
        "SELECT set_name, n, coverage_heldout, coverage_history, n_heldout, n_history FROM transfer_results "
        "WHERE generation = (SELECT max(generation) FROM transfer_results) ORDER BY coverage_heldout DESC, set_name"
    ).df()


def vendi_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per generation: ``vendi_cumulative``, ``vendi_active`` (effective number of distinct
    tasks) and, when recorded, ``tasks_history`` and ``tasks_active`` (counts of task families)."""
    return metrics_frame(con, ["vendi_cumulative", "vendi_active", "tasks_history", "tasks_active"])


def admitted_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per generation (``generations`` table): ``n_candidates``, ``n_gibberish``, ``n_admitted``."""
    return con.execute(
        "SELECT generation, n_candidates, n_gibberish, n_admitted FROM generations ORDER BY generation"
    ).df()


def exploration_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per generation: ``distinct_skill_vectors`` (archive), ``children_new_instances``
    (instances solved by a child and none of its parents), ``children_finding_new`` and
    ``n_candidates``; empty for a run that recorded none of them."""
    df = metrics_frame(con, ["distinct_skill_vectors", "children_new_instances", "children_finding_new", "n_candidates"])
    return df if {"children_new_instances", "distinct_skill_vectors"} & set(df.columns) else pd.DataFrame()


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


def skill_cluster_frame(con: duckdb.DuckDBPyConnection, model_ids: list[str] | None = None) -> pd.DataFrame:
    """Models x task clusters of the last clustered generation (-1 = HDBSCAN noise): the final
    archive, or ``model_ids`` (any models of the run, ranked in the given order, fitness NULL).

    Returns: one row per (model, cluster): ``model_id``, ``rank``, ``fitness``, ``cluster``,
    ``label`` (cluster name: most frequent capability), ``n_tasks`` (families in the cluster),
    ``n_scored`` (of them, evaluated on the model), ``score`` (mean of the model's per-family mean
    scores over the scored families, 0-1; NaN when none is scored).  Empty without clusters.
    """
    if not has_table(con, "task_clusters"):
        return pd.DataFrame()
    chosen = ("SELECT model_id, rank, fitness FROM archive WHERE generation = (SELECT max(generation) FROM archive)"
              if model_ids is None else
              "SELECT unnest(?) AS model_id, generate_subscripts(?, 1) - 1 AS rank, NULL::DOUBLE AS fitness")
    return con.execute(f"""
        WITH c AS (
            SELECT c.task_id, c.cluster, f.capability FROM task_clusters c JOIN task_families f USING (task_id)
            WHERE c.generation = (SELECT max(generation) FROM task_clusters)),
        labels AS (SELECT cluster, mode(coalesce(capability, '?')) AS label, count(*)::INTEGER AS n_tasks
                   FROM c GROUP BY cluster),
        fin AS ({chosen})
        SELECT fin.model_id, fin.rank, fin.fitness, c.cluster, labels.label, labels.n_tasks,
               count(s.score)::INTEGER AS n_scored, avg(s.score) AS score
        FROM fin CROSS JOIN c JOIN labels USING (cluster)
        LEFT JOIN skill_vectors s ON s.model_id = fin.model_id AND s.task_id = c.task_id
        GROUP BY ALL ORDER BY fin.rank, c.cluster
    """, [] if model_ids is None else [model_ids, model_ids]).df()


def ancestry_frame(con: duckdb.DuckDBPyConnection, model_id: str) -> pd.DataFrame:
    """Every ancestor of ``model_id`` back to the seeds, the model itself first: one row per
    (model, parent) edge, ``model_id``, ``operator``, ``generation`` (created), ``parent_id``
    (NULL for a seed or the base), nearest generations first."""
    return con.execute("""
        WITH RECURSIVE up(model_id) AS (
            SELECT ?::VARCHAR
            UNION SELECT l.parent_id FROM lineage l JOIN up ON l.child_id = up.model_id)
        SELECT m.model_id, m.operator, m.created_generation AS generation, l.parent_id
        FROM up JOIN models m USING (model_id) LEFT JOIN lineage l ON l.child_id = m.model_id
        ORDER BY m.created_generation DESC, m.model_id, l.parent_id
    """, [model_id]).df()


def latest_sets_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The model sets of the latest assessment: ``generation``, ``set_name``, ``kind``, ``n``,
    ``members``, ``synthetic_coverage``.  Empty when the run was never assessed."""
    if not has_table(con, "assessment_sets"):
        return pd.DataFrame()
    return con.execute("""
        SELECT generation, set_name, kind, n, members, synthetic_coverage FROM assessment_sets
        WHERE generation = (SELECT max(generation) FROM assessment_sets) ORDER BY kind, n, set_name
    """).df()


def benchmark_accuracy_frame(con: duckdb.DuckDBPyConnection, model_ids: list[str]) -> pd.DataFrame:
    """Greedy accuracy of ``model_ids`` on every benchmark they answered: ``model_id``,
    ``benchmark``, ``n_items``, ``accuracy`` (0-1).  Empty when none was assessed."""
    if not has_table(con, "benchmark_items"):
        return pd.DataFrame()
    return con.execute("""
        SELECT model_id, benchmark, count(*)::INTEGER AS n_items, avg(correct::INTEGER) AS accuracy
        FROM benchmark_items WHERE sample = 0 AND list_contains(?, model_id)
        GROUP BY ALL ORDER BY model_id, benchmark
    """, [model_ids]).df()


def task_embeddings_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per embedded task family, in order of admission: ``task_id``, ``name``, ``origin``,
    ``active``, ``capability``, ``cluster`` (last clustered generation; -1 = noise or unclustered),
    ``embedding`` (a list of floats).  Empty for a run without embeddings."""
    if not has_table(con, "task_embeddings"):
        return pd.DataFrame()
    clusters = ("(SELECT task_id, cluster FROM task_clusters WHERE generation = "
                "(SELECT max(generation) FROM task_clusters))") if has_table(con, "task_clusters") else \
        "(SELECT NULL::VARCHAR AS task_id, NULL::INTEGER AS cluster)"
    return con.execute(f"""
        SELECT e.task_id, f.name, f.origin, f.active, f.capability, coalesce(c.cluster, -1) AS cluster, e.embedding
        FROM task_embeddings e JOIN task_families f USING (task_id) LEFT JOIN {clusters} c USING (task_id)
        ORDER BY f.created_generation, f.name
    """).df()


def _latest_assessment(con: duckdb.DuckDBPyConnection, where: str) -> pd.DataFrame:
    if not has_table(con, "assessment_results"):
        return pd.DataFrame()
    holm = "p_holm" if con.execute("SELECT count(*) FROM information_schema.columns WHERE "
                                   "table_name = 'assessment_results' AND column_name = 'p_holm'").fetchall()[0][0] \
        else "NULL::DOUBLE AS p_holm"  # assessed before schema 007
    return con.execute(f"""
        SELECT generation, set_name, benchmark, metric, value, ci_low, ci_high, p_value, n_items, {holm}
        FROM assessment_results
        WHERE {where} AND generation = (SELECT max(generation) FROM assessment_results WHERE metric = 'coverage')
        ORDER BY benchmark, set_name, metric
    """).df()


def assessment_coverage_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """``assessment_results`` rows with metric 'coverage' at the latest assessed generation:
    ``generation``, ``set_name``, ``benchmark``, ``value``, ``ci_low``, ``ci_high`` (shares, 0-1),
    ``p_value``, ``n_items``, ``p_holm`` (NULL in assessments older than it).  Empty when the run
    was never assessed."""
    return _latest_assessment(con, "metric = 'coverage'")


def best_of_n_frame(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Best-of-N rows (``bon_<method>``, ``majority_vote``, ``best_single``) at the latest
    assessed generation, same columns as :func:`assessment_coverage_frame` plus ``metric``."""
    return _latest_assessment(con, "(metric LIKE 'bon\\_%' ESCAPE '\\' OR metric IN ('majority_vote', 'best_single'))")


def stored_model_ids(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every stored model's id."""
    return [r[0] for r in con.execute("SELECT model_id FROM models ORDER BY model_id").fetchall()]


def final_archive_ids(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The archive after the last committed generation, best first (empty before generation 0)."""
    return [r[0] for r in con.execute(
        "SELECT model_id FROM archive WHERE generation = (SELECT max(generation) FROM archive) ORDER BY rank"
    ).fetchall()]


def model_record(con: duckdb.DuckDBPyConnection, model_id: str) -> tuple:
    """(operator, created_generation, recipe JSON, merge_config_yaml, archive_status) of a stored model.

    Raises:
        IndexError: no model ``model_id``.
    """
    return con.execute("SELECT operator, created_generation, recipe, merge_config_yaml, archive_status FROM models "
                       "WHERE model_id = ?", [model_id]).fetchall()[0]


def seed_names(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """{model_id: name} of the seeds and the base."""
    return dict(con.execute("SELECT model_id, recipe->>'name' FROM models WHERE operator IN ('seed', 'base')").fetchall())



# ---- the generation steps' and the commands' reads (through :meth:`storage.db.RunDB.read`) -----
def last_generation(con: duckdb.DuckDBPyConnection) -> int | None:
    """The last committed generation, None before generation 0 commits."""
    return _scalar(con, "SELECT max(generation) FROM generations")


def generation_committed(con: duckdb.DuckDBPyConnection, generation: int) -> bool:
    """Whether ``generation`` is committed."""
    return bool(_scalar(con, "SELECT count(*) FROM generations WHERE generation = ?", generation))


def count_rows(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """The number of rows of ``table``.

    Raises:
        ValueError: ``table`` is not one of the run's tables.
    """
    if table not in TABLE_COLUMNS and table not in ASSESSMENT_COLUMNS and table not in ("generations", "runs",
                                                                                      "seed_experts"):
        raise ValueError(f"unknown table {table}")
    return _scalar(con, f"SELECT count(*) FROM {table}")


def archive_ids(con: duckdb.DuckDBPyConnection, generation: int) -> list[str]:
    """Model ids in the archive after ``generation``, best competition rank first."""
    return [r[0] for r in con.execute(
        "SELECT model_id FROM archive WHERE generation = ? ORDER BY rank", [generation]).fetchall()]


def base_model_id(con: duckdb.DuckDBPyConnection) -> str:
    """The model task vectors are taken against (recorded with the seeds in generation 0).

    Raises:
        LookupError: before generation 0 is committed.
    """
    rows = con.execute("SELECT model_id FROM models WHERE operator IN ('seed', 'base') "
                       "AND CAST(recipe->>'is_base' AS BOOLEAN)").fetchall()
    if not rows:
        raise LookupError("no base model recorded: generation 0 is not committed")
    return rows[0][0]


def seed_ids(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The seed models (the population generation 0 started from), by id."""
    return [r[0] for r in con.execute("SELECT model_id FROM models WHERE operator = 'seed' ORDER BY model_id")
            .fetchall()]


def models(con: duckdb.DuckDBPyConnection, ids: list[str] | None = None) -> pd.DataFrame:
    """``models`` rows (all, oldest first, or those of ``ids``)."""
    if ids is None:
        return con.execute("SELECT * FROM models ORDER BY created_generation, model_id").df()
    return con.execute("SELECT * FROM models WHERE list_contains(?, model_id)", [ids]).df()


def task_families(con: duckdb.DuckDBPyConnection, task_ids: list[str] | None = None,
                  active: bool | None = None) -> list[dict]:
    """Task families (all, or ``task_ids``; only the active or only the retired ones with
    ``active`` True or False) with their instances, sorted by name.

    Returns: [{"task_id", "name", "code", "description", "capability", "domain",
    "created_generation", "instances": {instance_id: {"task", "instructions"}}}].
    """
    where = ["true"]
    params: list = []
    if active is not None:
        where.append("f.active" if active else "NOT f.active")
    if task_ids is not None:
        where.append("list_contains(?, f.task_id)")
        params.append(task_ids)
    cond = " AND ".join(where)
    fams = con.execute(
        "SELECT task_id, name, code, description, capability, domain, created_generation "
        f"FROM task_families f WHERE {cond} ORDER BY name, task_id", params
    ).fetchall()
    inst = con.execute(
        "SELECT i.task_id, instance_id, task, instructions FROM task_instances i "
        f"JOIN task_families f USING (task_id) WHERE {cond} ORDER BY i.task_id, instance_id", params
    ).fetchall()
    by_task: dict[str, dict] = {}
    for tid, iid, task, instr in inst:
        by_task.setdefault(tid, {})[iid] = {"task": json.loads(task), "instructions": instr}
    keys = ("task_id", "name", "code", "description", "capability", "domain", "created_generation")
    return [{**dict(zip(keys, row)), "instances": by_task.get(row[0], {})} for row in fams]


def active_tasks(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """The active task families with their instances (see :func:`task_families`)."""
    return task_families(con, active=True)


def retired_tasks(con: duckdb.DuckDBPyConnection, sample: int | None = None, seed: int = 0) -> list[dict]:
    """Task families of the history that are no longer active (dropped, replaced by a rewrite or
    pruned), as :func:`task_families`, with only the instances among the first ``sample`` draws of
    ``seed`` (see :func:`history_coverage`; None: all) and without the families none of whose
    instances is drawn."""
    families = task_families(con, active=False)
    if sample is None:
        return families
    drawn = set(con.execute(f"SELECT task_id, instance_id FROM ({_RETIRED_DRAWS}) WHERE draw <= ?",
                            [seed, None, sample]).fetchall())
    kept = [{**f, "instances": {i: x for i, x in f["instances"].items() if (f["task_id"], i) in drawn}}
            for f in families]
    return [f for f in kept if f["instances"]]


def task_history(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Every task family ever admitted, oldest first, with its embedding when stored:
    [{"task_id", "name", "code", "active", "created_generation", "embedding" (list or None)}]."""
    rows = con.execute(
        "SELECT f.task_id, f.name, f.code, f.active, f.created_generation, e.embedding "
        "FROM task_families f LEFT JOIN task_embeddings e USING (task_id) "
        "ORDER BY f.created_generation, f.name, f.task_id"
    ).fetchall()
    keys = ("task_id", "name", "code", "active", "created_generation", "embedding")
    return [dict(zip(keys, r)) for r in rows]


def all_scores(con: duckdb.DuckDBPyConnection, model_ids: list[str], task_ids: list[str]
               ) -> list[tuple[str, str, str, float]]:
    """Score rows (model_id, task_id, instance_id, score) of ``model_ids`` on ``task_ids``,
    active or not."""
    return con.execute("SELECT model_id, task_id, instance_id, score FROM evaluations "
                       "WHERE list_contains(?, model_id) AND list_contains(?, task_id)",
                       [model_ids, task_ids]).fetchall()


def evaluation_scores(con: duckdb.DuckDBPyConnection, model_ids: list[str]) -> list[tuple[str, str, str, float]]:
    """Score rows (model_id, task_id, instance_id, score) of ``model_ids`` on the active task
    families."""
    return con.execute(
        "SELECT e.model_id, e.task_id, e.instance_id, e.score FROM evaluations e JOIN task_families f "
        "USING (task_id) WHERE f.active AND list_contains(?, e.model_id)", [model_ids]).fetchall()


def answers(con: duckdb.DuckDBPyConnection, model_ids: list[str], task_ids: list[str]
            ) -> list[tuple[str, str, str, str | None, float]]:
    """(model_id, task_id, instance_id, submission, score) of ``model_ids`` on ``task_ids``."""
    return con.execute("SELECT model_id, task_id, instance_id, submission, score FROM evaluations "
                       "WHERE list_contains(?, model_id) AND list_contains(?, task_id)",
                       [model_ids, task_ids]).fetchall()


def missing_pairs(con: duckdb.DuckDBPyConnection, model_ids: list[str]) -> list[tuple[str, str, str]]:
    """(model_id, task_id, instance_id) of ``model_ids`` x every task instance ever admitted that
    has no evaluation row yet."""
    return con.execute(
        "WITH m AS (SELECT unnest(?) AS model_id) "
        "SELECT m.model_id, i.task_id, i.instance_id FROM m, task_instances i "
        "ANTI JOIN evaluations e ON e.model_id = m.model_id AND e.task_id = i.task_id "
        "AND e.instance_id = i.instance_id ORDER BY 1, 2, 3", [model_ids]).fetchall()


def task_events(con: duckdb.DuckDBPyConnection, event: str) -> list[tuple[int, str]]:
    """(generation, task_id) of every task event named ``event``."""
    return con.execute("SELECT generation, task_id FROM task_events WHERE event = ? ORDER BY generation, task_id",
                       [event]).fetchall()


def initial_task_count(con: duckdb.DuckDBPyConnection) -> int:
    """The number of task families admitted at generation 0 (the seed task set)."""
    return _scalar(con, "SELECT count(*) FROM task_families WHERE created_generation = 0")


def ever_archived(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every model that was in the archive after some generation, oldest first."""
    return [r[0] for r in con.execute(
        "SELECT model_id FROM archive GROUP BY model_id ORDER BY min(generation), model_id").fetchall()]


def seed_experts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The built experts (``seed_experts`` rows), by name."""
    return con.execute("SELECT * FROM seed_experts ORDER BY name").df()


# ---- held-out instances (acdc_core.transfer) ---------------------------------------------------
def heldout_drawn(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Task ids whose held-out instances were drawn (also those whose draw gave none)."""
    return {r[0] for r in con.execute("SELECT task_id FROM heldout_draws").fetchall()}


def heldout_instances(con: duckdb.DuckDBPyConnection, task_ids: list[str] | None = None
                      ) -> dict[str, dict[str, dict]]:
    """{task_id: {instance_id: {"task", "instructions"}}} of the held-out instances (of
    ``task_ids``, default all)."""
    rows = con.execute(
        "SELECT task_id, instance_id, task, instructions FROM heldout_instances "
        "WHERE ? IS NULL OR list_contains(?, task_id) ORDER BY task_id, instance_id", [task_ids, task_ids]).fetchall()
    out: dict[str, dict[str, dict]] = {}
    for t, i, task, instructions in rows:
        out.setdefault(t, {})[i] = {"task": json.loads(task), "instructions": instructions}
    return out


def heldout_scores(con: duckdb.DuckDBPyConnection, model_ids: list[str], sample: int | None = 0
                   ) -> list[tuple[str, str, str, float]]:
    """(model_id, task_id, instance_id, score) of ``model_ids`` on held-out instances: greedy
    answers (``sample`` 0), one sample, or every answer (``None``)."""
    return con.execute("SELECT model_id, task_id, instance_id, score FROM heldout_answers "
                       "WHERE list_contains(?, model_id) AND (? IS NULL OR sample = ?)",
                       [model_ids, sample, sample]).fetchall()


def heldout_samples(con: duckdb.DuckDBPyConnection, model_id: str, temperature: float
                    ) -> list[tuple[str, str, str, int, float]]:
    """(model_id, task_id, instance_id, sample, score) of ``model_id``'s sampled held-out answers
    (sample > 0) at ``temperature``."""
    return con.execute("SELECT model_id, task_id, instance_id, sample, score FROM heldout_answers "
                       "WHERE model_id = ? AND sample > 0 AND temperature = ?", [model_id, temperature]).fetchall()


def heldout_missing(con: duckdb.DuckDBPyConnection, model_ids: list[str], sample: int = 0
                    ) -> list[tuple[str, str, str]]:
    """(model_id, task_id, instance_id) of ``model_ids`` x every held-out instance without an
    answer of ``sample``."""
    return con.execute(
        "WITH m AS (SELECT unnest(?) AS model_id) "
        "SELECT m.model_id, h.task_id, h.instance_id FROM m, heldout_instances h "
        "ANTI JOIN heldout_answers a ON a.model_id = m.model_id AND a.task_id = h.task_id "
        "AND a.instance_id = h.instance_id AND a.sample = ? ORDER BY 1, 2, 3", [model_ids, sample]).fetchall()


# ---- benchmark answers (acdc assess) -------------------------------------------------------------
def answered_docs(con: duckdb.DuckDBPyConnection, model_id: str, benchmark: str, sample: int) -> set[int]:
    """doc_ids of ``benchmark`` that ``model_id`` already answered as ``sample``."""
    return {r[0] for r in con.execute(
        "SELECT doc_id FROM benchmark_items WHERE model_id = ? AND benchmark = ? AND sample = ?",
        [model_id, benchmark, sample]).fetchall()}


def benchmark_items(con: duckdb.DuckDBPyConnection, model_ids: list[str], benchmark: str, doc_ids: list[int]
                    ) -> pd.DataFrame:
    """Rows of ``benchmark_items`` for these models and items (all samples)."""
    return con.execute(
        "SELECT * FROM benchmark_items WHERE list_contains(?, model_id) AND benchmark = ? "
        "AND list_contains(?, doc_id) ORDER BY model_id, doc_id, sample", [model_ids, benchmark, doc_ids]).df()


def benchmark_docs(con: duckdb.DuckDBPyConnection, benchmark: str) -> pd.DataFrame:
    """The stored items of ``benchmark`` (columns of ``benchmark_docs``), indexed by doc_id."""
    return con.execute("SELECT * FROM benchmark_docs WHERE benchmark = ?", [benchmark]).df().set_index("doc_id")


def benchmark_targets(con: duckdb.DuckDBPyConnection, benchmark: str) -> dict[int, str]:
    """{doc_id: gold target} of the stored items of ``benchmark``."""
    return benchmark_docs(con, benchmark)["target"].to_dict()
