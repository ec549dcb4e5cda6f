"""The run's DuckDB file: schema migrations and the repository the steps use -- every write
of the project is a method here.

Writes: a generation's rows go through :meth:`RunDB.commit_generation`, one transaction: either
all of a generation's rows are visible or none are.  Outside a generation, the commands that run
after it write their own tables, each in one transaction: ``acdc seeds build``
(:meth:`RunDB.register_seed_expert`), ``acdc assess`` (:meth:`RunDB.insert_rows`,
:meth:`RunDB.save_assessment`, :meth:`RunDB.copy_answers`, benchmark answers) and ``acdc transfer``
(:meth:`RunDB.add_heldout_answers`, :meth:`RunDB.save_transfer`).  Connections come from
:mod:`storage.connection`; the report's and the CLI's reads are :mod:`storage.queries`.  Reads
open short-lived connections, so a user may query the file between generations (DuckDB allows one
writing process at a time).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

import duckdb
import pandas as pd

from acdc_core.text import clean_text
from storage import queries
from storage.connection import connect
from storage.queries import history_coverage

log = logging.getLogger(__name__)

TABLE_COLUMNS = {
    "models": [
        "model_id", "uri", "parents", "operator", "recipe", "merge_config_yaml", "seed",
        "created_generation", "is_gibberish", "gibberish_reason", "archive_status",
    ],
    "lineage": ["child_id", "parent_id", "operator", "generation"],
    "task_families": [
        "task_id", "name", "code", "description", "capability", "domain", "parent_id", "origin",
        "created_generation", "active",
    ],
    "task_instances": ["task_id", "instance_id", "task", "instructions"],
    "evaluations": [
        "model_id", "task_id", "instance_id", "score", "response", "submission", "error", "tokens",
        "seconds", "generation",
    ],
    "archive": ["generation", "model_id", "rank", "fitness", "competition_score"],
    "metrics": ["generation", "name", "value"],
    "task_embeddings": ["task_id", "embedder", "text", "embedding", "created_generation"],
    "task_proposals": [
        "generation", "request_id", "round", "operation", "parent_id", "task_id", "name", "status",
        "reason", "max_similarity", "nearest_ids", "reply",
    ],
    "task_events": ["generation", "task_id", "event", "detail"],
    "task_clusters": ["generation", "task_id", "cluster"],
    "child_effects": [
        "generation", "model_id", "parents", "operator", "n_compared", "differ_share", "n_new_solved",
        "n_lost_solved", "new_solved",
    ],
    "heldout_instances": ["task_id", "instance_id", "task", "instructions"],
    "heldout_draws": ["task_id", "draw", "n_instances", "generation", "error"],
    "heldout_answers": [
        "model_id", "task_id", "instance_id", "sample", "temperature", "score", "response", "submission", "error",
        "tokens", "generation", "source",
    ],
    "noise_floor": ["generation", "model_id", "task_id", "instance_id", "parent_samples", "parent_solved"],
}

# Tables `acdc assess` (schema 004) and `acdc transfer` (schema 008) write, outside the generation commits.
ASSESSMENT_COLUMNS = {
    "benchmark_docs": ["benchmark", "doc_id", "prompt", "choices", "target"],
    "benchmark_items": [
        "model_id", "benchmark", "doc_id", "sample", "correct", "answer", "confidence", "choice_logliks",
        "response",
    ],
    "reference_models": ["model_id", "name", "path", "n_params"],
    "assessment_sets": ["generation", "set_name", "kind", "n", "members", "synthetic_coverage"],
    "assessment_results": [
        "generation", "set_name", "benchmark", "metric", "value", "ci_low", "ci_high", "p_value", "n_items",
        "p_holm",
    ],
    "transfer_results": [
        "generation", "set_name", "n", "members", "coverage_heldout", "coverage_history", "n_heldout", "n_history",
    ],
}


def _migrations() -> list[tuple[int, str]]:
    files = sorted(
        f for f in resources.files("storage.schema").iterdir() if f.name.endswith(".sql")
    )
    return [(int(f.name.split("_", 1)[0]), f.read_text()) for f in files]


SCHEMA_VERSION = _migrations()[-1][0]


class RunDB:
    """Repository over one run's existing DuckDB file at ``path``; opening it changes nothing.

    The file is made and brought to the current schema once, by the run's writer
    (:meth:`create`, called when a run starts or resumes and before ``acdc assess`` writes).
    DuckDB lets one process write, or several read: while a user's SQL session holds the file,
    a connection here waits (up to ``lock_timeout_s`` seconds, logging why) instead of failing.

    Raises:
        FileNotFoundError: there is no file at ``path``.
        RunFolderError: (on connecting) the file is not a readable DuckDB database.
    """

    def __init__(self, path: str | Path, lock_timeout_s: float = 600.0):
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s
        if not self.path.is_file():
            raise FileNotFoundError(f"no run database at {self.path}")

    @classmethod
    def create(cls, path: str | Path, lock_timeout_s: float = 600.0) -> RunDB:
        """The run database at ``path``, created if absent, with every pending schema migration
        applied (each once, in order, recorded in ``schema_version``)."""
        path = Path(path)
        if not path.is_file():  # a new file: nobody else can hold it yet
            path.parent.mkdir(parents=True, exist_ok=True)
            duckdb.connect(str(path)).close()
        db = cls(path, lock_timeout_s)  # an existing one is migrated through the lock-waiting connect
        db._migrate()
        return db

    def connect(self, read_only: bool = False):
        """A connection to the file (see :func:`storage.connection.connect`), closed on exit."""
        return connect(self.path, read_only, self.lock_timeout_s)

    def _migrate(self) -> None:
        with self.connect() as con:
            con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP)")
            done = {r[0] for r in con.execute("SELECT version FROM schema_version").fetchall()}
            for version, ddl in _migrations():
                if version in done:
                    continue
                con.execute("BEGIN TRANSACTION")
                con.execute(ddl)
                con.execute("INSERT INTO schema_version VALUES (?, ?)", [version, _now()])
                con.execute("COMMIT")

    # ---- run -------------------------------------------------------------------------------
    def get_run(self) -> dict | None:
        with self.connect() as con:
            df = con.execute("SELECT * FROM runs").df()
        return None if df.empty else df.iloc[0].to_dict()

    def create_run(self, run_id: str, name: str, seed: int, config_yaml: str) -> None:
        with self.connect() as con:
            con.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?)", [run_id, name, _now(), seed, config_yaml])

    # ---- reads -----------------------------------------------------------------------------
    def last_generation(self) -> int | None:
        with self.connect() as con:
            return con.execute("SELECT max(generation) FROM generations").fetchall()[0][0]

    def archive_ids(self, generation: int) -> list[str]:
        """Model ids in the archive after ``generation``, best competition rank first."""
        with self.connect() as con:
            rows = con.execute(
                "SELECT model_id FROM archive WHERE generation = ? ORDER BY rank", [generation]
            ).fetchall()
        return [r[0] for r in rows]

    def base_model_id(self) -> str:
        """The model task vectors are taken against (recorded with the seeds in generation 0).

        Raises:
            LookupError: before generation 0 is committed.
        """
        with self.connect() as con:
            rows = con.execute(
                "SELECT model_id FROM models WHERE operator IN ('seed', 'base') "
                "AND CAST(recipe->>'is_base' AS BOOLEAN)"
            ).fetchall()
        if not rows:
            raise LookupError("no base model recorded: generation 0 is not committed")
        return rows[0][0]

    def seed_ids(self) -> list[str]:
        """The seed models (the population generation 0 started from), by id."""
        with self.connect() as con:
            rows = con.execute("SELECT model_id FROM models WHERE operator = 'seed' ORDER BY model_id").fetchall()
        return [r[0] for r in rows]

    def models(self, ids: list[str] | None = None) -> pd.DataFrame:
        with self.connect() as con:
            if ids is None:
                return con.execute("SELECT * FROM models ORDER BY created_generation, model_id").df()
            return con.execute("SELECT * FROM models WHERE list_contains(?, model_id)", [ids]).df()

    def active_tasks(self) -> list[dict]:
        """Active task families with their instances, sorted by task name.

        Returns: [{"task_id", "name", "code", "description", "capability", "domain",
        "created_generation", "instances": {instance_id: {"task", "instructions"}}}].
        """
        return self.task_families(active=True)

    def retired_tasks(self) -> list[dict]:
        """Task families of the history that are no longer active (dropped, replaced by a
        rewrite or pruned), in the format of :meth:`active_tasks`."""
        return self.task_families(active=False)

    def task_families(self, task_ids: list[str] | None = None, active: bool | None = None) -> list[dict]:
        """Task families (all, or ``task_ids``; only the active or only the retired ones with
        ``active`` True or False) with their instances, in the format of :meth:`active_tasks`."""
        where = ["true"]
        params: list = []
        if active is not None:
            where.append("f.active" if active else "NOT f.active")
        if task_ids is not None:
            where.append("list_contains(?, f.task_id)")
            params.append(task_ids)
        cond = " AND ".join(where)
        with self.connect() as con:
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

    def task_history(self) -> list[dict]:
        """Every task family ever admitted, oldest first, with its embedding when stored:
        [{"task_id", "name", "code", "active", "created_generation", "embedding" (list or None)}]."""
        with self.connect() as con:
            rows = con.execute(
                "SELECT f.task_id, f.name, f.code, f.active, f.created_generation, e.embedding "
                "FROM task_families f LEFT JOIN task_embeddings e USING (task_id) "
                "ORDER BY f.created_generation, f.name, f.task_id"
            ).fetchall()
        keys = ("task_id", "name", "code", "active", "created_generation", "embedding")
        return [dict(zip(keys, r)) for r in rows]

    def all_scores(self, model_ids: list[str], task_ids: list[str]) -> list[tuple[str, str, str, float]]:
        """Score rows (model_id, task_id, instance_id, score) of ``model_ids`` on ``task_ids``,
        active or not."""
        with self.connect() as con:
            return con.execute(
                "SELECT model_id, task_id, instance_id, score FROM evaluations "
                "WHERE list_contains(?, model_id) AND list_contains(?, task_id)",
                [model_ids, task_ids],
            ).fetchall()

    def generation_metrics(self, generation: int) -> dict[str, float]:
        """See :func:`storage.queries.generation_metrics`."""
        with self.connect() as con:
            return queries.generation_metrics(con, generation)

    def evaluation_scores(self, model_ids: list[str]) -> list[tuple[str, str, str, float]]:
        """Score rows (model_id, task_id, instance_id, score) of ``model_ids`` on the active
        task families."""
        with self.connect() as con:
            return con.execute(
                "SELECT e.model_id, e.task_id, e.instance_id, e.score FROM evaluations e JOIN task_families f "
                "USING (task_id) WHERE f.active AND list_contains(?, e.model_id)",
                [model_ids],
            ).fetchall()

    def answers(self, model_ids: list[str], task_ids: list[str]) -> list[tuple[str, str, str, str | None, float]]:
        """(model_id, task_id, instance_id, submission, score) of ``model_ids`` on ``task_ids``."""
        with self.connect() as con:
            return con.execute(
                "SELECT model_id, task_id, instance_id, submission, score FROM evaluations "
                "WHERE list_contains(?, model_id) AND list_contains(?, task_id)",
                [model_ids, task_ids],
            ).fetchall()

    # ---- held-out instances (acdc_core.transfer) ----------------------------------------------
    def heldout_drawn(self) -> set[str]:
        """Task ids whose held-out instances were drawn (also those whose draw gave none)."""
        with self.connect() as con:
            return {r[0] for r in con.execute("SELECT task_id FROM heldout_draws").fetchall()}

    def heldout_instances(self, task_ids: list[str] | None = None) -> dict[str, dict[str, dict]]:
        """{task_id: {instance_id: {"task", "instructions"}}} of the held-out instances (of
        ``task_ids``, default all)."""
        with self.connect() as con:
            rows = con.execute(
                "SELECT task_id, instance_id, task, instructions FROM heldout_instances "
                "WHERE ? IS NULL OR list_contains(?, task_id) ORDER BY task_id, instance_id",
                [task_ids, task_ids]).fetchall()
        out: dict[str, dict[str, dict]] = {}
        for t, i, task, instructions in rows:
            out.setdefault(t, {})[i] = {"task": json.loads(task), "instructions": instructions}
        return out

    def heldout_scores(self, model_ids: list[str], sample: int | None = 0) -> list[tuple[str, str, str, float]]:
        """(model_id, task_id, instance_id, score) of ``model_ids`` on held-out instances: greedy
        answers (``sample`` 0), one sample, or every answer (``None``)."""
        with self.connect() as con:
            return con.execute(
                "SELECT model_id, task_id, instance_id, score FROM heldout_answers "
                "WHERE list_contains(?, model_id) AND (? IS NULL OR sample = ?)", [model_ids, sample, sample],
            ).fetchall()

    def heldout_samples(self, model_id: str, temperature: float) -> list[tuple[str, str, str, int, float]]:
        """(model_id, task_id, instance_id, sample, score) of ``model_id``'s sampled held-out
        answers (sample > 0) at ``temperature``."""
        with self.connect() as con:
            return con.execute(
                "SELECT model_id, task_id, instance_id, sample, score FROM heldout_answers "
                "WHERE model_id = ? AND sample > 0 AND temperature = ?", [model_id, temperature],
            ).fetchall()

    def heldout_missing(self, model_ids: list[str], sample: int = 0) -> list[tuple[str, str, str]]:
        """(model_id, task_id, instance_id) of ``model_ids`` x every held-out instance without an
        answer of ``sample``."""
        with self.connect() as con:
            return con.execute(
                "WITH m AS (SELECT unnest(?) AS model_id) "
                "SELECT m.model_id, h.task_id, h.instance_id FROM m, heldout_instances h "
                "ANTI JOIN heldout_answers a ON a.model_id = m.model_id AND a.task_id = h.task_id "
                "AND a.instance_id = h.instance_id AND a.sample = ? ORDER BY 1, 2, 3", [model_ids, sample],
            ).fetchall()

    def add_heldout_answers(self, rows: list[dict]) -> int:
        """Insert ``heldout_answers`` rows outside a generation's commit (answers filled in after
        a run); a row already there is kept.  Returns the number given."""
        if rows:
            with self.connect() as con:
                _insert(con, "heldout_answers", TABLE_COLUMNS["heldout_answers"], rows, "INSERT OR IGNORE")
        return len(rows)

    def task_events(self, event: str) -> list[tuple[int, str]]:
        """(generation, task_id) of every task event named ``event``."""
        with self.connect() as con:
            return con.execute(
                "SELECT generation, task_id FROM task_events WHERE event = ? ORDER BY generation, task_id", [event]
            ).fetchall()

    def initial_task_count(self) -> int:
        """The number of task families admitted at generation 0 (the seed task set)."""
        with self.connect() as con:
            return con.execute("SELECT count(*) FROM task_families WHERE created_generation = 0").fetchall()[0][0]

    def count(self, table: str) -> int:
        if table not in TABLE_COLUMNS and table not in ASSESSMENT_COLUMNS and table not in (
            "generations", "runs", "seed_experts"
        ):
            raise ValueError(f"unknown table {table}")
        with self.connect() as con:
            return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]

    def register_seed_expert(self, row: dict) -> None:
        """Record a built expert (columns of ``seed_experts``); re-registering the same
        ``model_id`` replaces its row, so a rebuilt expert never duplicates."""
        with self.connect() as con:
            con.execute(
                "INSERT OR REPLACE INTO seed_experts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [row["model_id"], row["name"], row["skill"], row["family"], row["base_model_id"], row["uri"],
                 json.dumps(row["recipe"]), row["loss_curve"], row["train_seconds"], _now()],
            )

    def seed_experts(self) -> pd.DataFrame:
        with self.connect(read_only=True) as con:
            return con.execute("SELECT * FROM seed_experts ORDER BY name").df()

    # ---- assessment (acdc assess) ------------------------------------------------------------
    def ever_archived(self) -> list[str]:
        """Every model that was in the archive after some generation, oldest first."""
        with self.connect(read_only=True) as con:
            rows = con.execute(
                "SELECT model_id FROM archive GROUP BY model_id ORDER BY min(generation), model_id"
            ).fetchall()
        return [r[0] for r in rows]

    def missing_pairs(self, model_ids: list[str]) -> list[tuple[str, str, str]]:
        """(model_id, task_id, instance_id) of ``model_ids`` x every task instance ever admitted
        that has no evaluation row yet."""
        with self.connect(read_only=True) as con:
            return con.execute(
                "WITH m AS (SELECT unnest(?) AS model_id) "
                "SELECT m.model_id, i.task_id, i.instance_id FROM m, task_instances i "
                "ANTI JOIN evaluations e ON e.model_id = m.model_id AND e.task_id = i.task_id "
                "AND e.instance_id = i.instance_id ORDER BY 1, 2, 3",
                [model_ids],
            ).fetchall()

    def insert_rows(self, table: str, rows: list[dict]) -> int:
        """Insert ``rows`` (dicts with the table's columns) into ``evaluations`` (with ``source``)
        or an assessment table, skipping rows whose key exists: re-running a step never duplicates.
        Returns the number of rows offered."""
        columns = [*TABLE_COLUMNS["evaluations"], "source"] if table == "evaluations" else ASSESSMENT_COLUMNS[table]
        if not rows:
            return 0
        with self.connect() as con:
            _insert(con, table, columns, rows, "INSERT OR IGNORE")
        return len(rows)

    def answered_docs(self, model_id: str, benchmark: str, sample: int) -> set[int]:
        """doc_ids of ``benchmark`` that ``model_id`` already answered as ``sample``."""
        with self.connect(read_only=True) as con:
            rows = con.execute(
                "SELECT doc_id FROM benchmark_items WHERE model_id = ? AND benchmark = ? AND sample = ?",
                [model_id, benchmark, sample],
            ).fetchall()
        return {r[0] for r in rows}

    def benchmark_items(self, model_ids: list[str], benchmark: str, doc_ids: list[int]) -> pd.DataFrame:
        """Rows of ``benchmark_items`` for these models and items (all samples)."""
        with self.connect(read_only=True) as con:
            return con.execute(
                "SELECT * FROM benchmark_items WHERE list_contains(?, model_id) AND benchmark = ? "
                "AND list_contains(?, doc_id) ORDER BY model_id, doc_id, sample",
                [model_ids, benchmark, doc_ids],
            ).df()

    def copy_answers(self, source: str | Path, model_ids: list[str], items: dict[str, list[int]]) -> int:
        """Copy ``source``'s (another run database's) stored answers of ``model_ids`` to ``items``
        ({benchmark: doc_ids}), with the items' text, skipping answers this run already holds.
        Returns the number of answers copied."""
        with self.connect() as con:
            quoted = Path(source).as_posix().replace("'", "''")
            con.execute(f"ATTACH '{quoted}' AS src (READ_ONLY)")
            try:
                where = "benchmark = ? AND list_contains(?, doc_id)"
                before = con.execute("SELECT count(*) FROM benchmark_items").fetchone()[0]
                tables = (("benchmark_items", " AND list_contains(?, model_id)"), ("benchmark_docs", ""))
                for benchmark, doc_ids in items.items():
                    for table, extra in tables:
                        cols = ", ".join(ASSESSMENT_COLUMNS[table])
                        con.execute(f"INSERT OR IGNORE INTO {table} ({cols}) SELECT {cols} FROM src.{table} "
                                    f"WHERE {where}{extra}", [benchmark, doc_ids] + ([model_ids] if extra else []))
                after = con.execute("SELECT count(*) FROM benchmark_items").fetchone()[0]
            finally:
                con.execute("DETACH src")
        return after - before

    def benchmark_docs(self, benchmark: str) -> pd.DataFrame:
        """The stored items of ``benchmark`` (columns of ``benchmark_docs``), indexed by doc_id."""
        with self.connect(read_only=True) as con:
            return con.execute("SELECT * FROM benchmark_docs WHERE benchmark = ?", [benchmark]).df().set_index("doc_id")

    def benchmark_targets(self, benchmark: str) -> dict[int, str]:
        """{doc_id: gold target} of the stored items of ``benchmark``."""
        return self.benchmark_docs(benchmark)["target"].to_dict()

    def save_assessment(self, generation: int, sets: list[dict], results: list[dict]) -> None:
        """Replace the sets and results assessed after ``generation``, in one transaction."""
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                for table, rows in (("assessment_sets", sets), ("assessment_results", results)):
                    con.execute(f"DELETE FROM {table} WHERE generation = ?", [generation])
                    if rows:
                        _insert(con, table, ASSESSMENT_COLUMNS[table], rows, "INSERT")
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    def save_transfer(self, generation: int, rows: list[dict]) -> None:
        """Replace the ``transfer_results`` of ``generation`` with ``rows``, in one transaction."""
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute("DELETE FROM transfer_results WHERE generation = ?", [generation])
                if rows:
                    _insert(con, "transfer_results", ASSESSMENT_COLUMNS["transfer_results"], rows, "INSERT")
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise

    # ---- the generation's write: one transaction ----------------------------------------------
    def commit_generation(self, commit: "GenerationCommit") -> bool:
        """Write all rows of one generation in a single transaction.

        Idempotent: returns False (and writes nothing) when the generation is already committed;
        rows whose primary key exists (a model re-created by an identical recipe, a task family
        already known) are skipped, so a retried commit never duplicates.

        A task family whose rows the database refuses (a value no cleaning makes storable) does
        not fail the generation, which would fail again on every resume: each family's rows are
        tried alone in a transaction that is rolled back, the refused families are retired
        (:meth:`GenerationCommit.retire`: active = false, a ``retired_unstorable`` event with the
        error) and the rest of the generation commits, still in one transaction.  Refused rows
        of no family, or of every family of a commit with several, are a fault of the run, not
        of a family: the error is raised.
        """
        try:
            return self._commit(commit)
        except _ROW_REFUSED as exc:
            refused = self._refused_families(commit)
            if not refused or (len(refused) == len(commit.task_ids()) > 1):
                raise
            storable = {tid for tid in refused if self._refusal(commit.select(
                lambda t, r, tid=tid: t == "task_families" and r.get("task_id") == tid)) is None}
            log.warning("generation %s: retiring task families whose rows cannot be stored: %s (first error: %s)",
                        commit.generation, refused, exc)
            return self._commit(commit.retire(refused, keep_family_row=storable))

    def _commit(self, commit: "GenerationCommit") -> bool:
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                exists = con.execute(
                    "SELECT count(*) FROM generations WHERE generation = ?", [commit.generation]
                ).fetchall()[0][0]
                if exists:
                    con.execute("ROLLBACK")
                    return False
                _write(con, commit)
                if commit.solved_threshold is not None:
                    _insert(con, "metrics", TABLE_COLUMNS["metrics"], _history_metrics(con, commit), "INSERT")
                con.execute(
                    "INSERT INTO generations VALUES (?, ?, ?, ?, ?, ?)",
                    [commit.generation, _now(), commit.n_candidates, commit.n_gibberish,
                     commit.n_admitted, commit.seconds],
                )
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        return True

    def _refusal(self, rows: "GenerationCommit") -> str | None:
        """The error writing ``rows`` raises (written in a transaction that is rolled back), or
        None when the database takes them."""
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                _write(con, rows)
            except _ROW_REFUSED as exc:
                return f"{type(exc).__name__}: {exc}"
            finally:
                con.execute("ROLLBACK")
        return None

    def _refused_families(self, commit: "GenerationCommit") -> dict[str, str]:
        """{task_id: the error} for each task family of ``commit`` whose own rows, written alone,
        are refused."""
        refused = {}
        for tid in commit.task_ids():
            reason = self._refusal(commit.select(lambda t, r, tid=tid: r.get("task_id") == tid))
            if reason is not None:
                refused[tid] = reason
        return refused


@dataclass
class GenerationCommit:
    """Everything one generation adds. Row dicts use the column names of ``TABLE_COLUMNS``."""

    generation: int
    n_candidates: int
    n_gibberish: int
    n_admitted: int
    seconds: float
    models: list[dict] = field(default_factory=list)
    lineage: list[dict] = field(default_factory=list)
    task_families: list[dict] = field(default_factory=list)
    task_instances: list[dict] = field(default_factory=list)
    evaluations: list[dict] = field(default_factory=list)
    archive: list[dict] = field(default_factory=list)
    metrics: list[dict] = field(default_factory=list)
    task_embeddings: list[dict] = field(default_factory=list)
    task_proposals: list[dict] = field(default_factory=list)
    task_events: list[dict] = field(default_factory=list)
    task_clusters: list[dict] = field(default_factory=list)
    child_effects: list[dict] = field(default_factory=list)
    heldout_instances: list[dict] = field(default_factory=list)
    heldout_draws: list[dict] = field(default_factory=list)
    heldout_answers: list[dict] = field(default_factory=list)
    noise_floor: list[dict] = field(default_factory=list)
    deactivate: list[str] = field(default_factory=list)  # task ids leaving the active pool
    solved_threshold: float | None = None  # set: the commit adds the history-coverage metrics

    def tables(self) -> dict[str, list[dict]]:
        return {name: getattr(self, name) for name in TABLE_COLUMNS}

    def task_ids(self) -> list[str]:
        """The task families some row of this commit belongs to (it has their ``task_id``)."""
        return sorted({r["task_id"] for t, rows in self.tables().items() if "task_id" in TABLE_COLUMNS[t]
                       for r in rows if isinstance(r.get("task_id"), str)})

    def select(self, keep: Callable[[str, dict], bool]) -> GenerationCommit:
        """A commit of the same generation holding the rows for which ``keep(table, row)`` is
        true, and deactivating nothing."""
        return replace(self, deactivate=[], **{t: [r for r in rows if keep(t, r)] for t, rows in self.tables().items()})

    def retire(self, reasons: dict[str, str], keep_family_row: set[str] = frozenset()) -> GenerationCommit:
        """This commit with the task families of ``reasons`` ({task_id: why}) retired as
        unstorable: their rows left out, except their ``task_families`` row (as inactive) where
        the id is in ``keep_family_row``; each gets a ``retired_unstorable`` event, leaves the
        active pool, and metric ``tasks_retired_unstorable`` counts them."""
        kept = self.select(lambda t, r: r.get("task_id") not in reasons
                           or (t == "task_families" and r["task_id"] in keep_family_row))
        kept.task_families = [{**r, "active": False} if r["task_id"] in reasons else r for r in kept.task_families]
        kept.task_events += [{"generation": self.generation, "task_id": tid, "event": "retired_unstorable",
                              "detail": reason[:2000]} for tid, reason in sorted(reasons.items())]
        kept.metrics = [m for m in kept.metrics if m.get("name") != "tasks_retired_unstorable"] + [
            {"generation": self.generation, "name": "tasks_retired_unstorable", "value": float(len(reasons))}]
        kept.deactivate = sorted(set(self.deactivate) | set(reasons))
        return kept


# What a row the database refuses raises: a value it cannot convert or store (DataError,
# IntegrityError), a Python value it cannot read (InvalidInputException), or one pandas cannot
# put in a frame.  Not: a lost connection, a lock, a full disk (OperationalError), a bad query.
_ROW_REFUSED = (duckdb.DataError, duckdb.IntegrityError, duckdb.InvalidInputException, ValueError, TypeError,
                OverflowError, RecursionError)


def _write(con: duckdb.DuckDBPyConnection, commit: GenerationCommit) -> None:
    """The commit's deactivations and rows, inside the caller's transaction."""
    if commit.deactivate:
        con.execute("UPDATE task_families SET active = false WHERE list_contains(?, task_id)", [commit.deactivate])
    for table, rows in commit.tables().items():
        if rows:
            _insert(con, table, TABLE_COLUMNS[table], rows, "INSERT OR IGNORE")


def _history_metrics(con: duckdb.DuckDBPyConnection, commit: GenerationCommit) -> list[dict]:
    """``coverage_history`` and ``coverage_history_seeds`` (0-1) and ``history_beyond_seeds`` (a
    count) of the committed archive and of the seed models, from the rows just written
    (:func:`storage.queries.history_coverage`)."""
    kept = [r["model_id"] for r in commit.archive]
    seeds = [r[0] for r in con.execute("SELECT model_id FROM models WHERE operator = 'seed'").fetchall()]
    n, _, solved = history_coverage(con, kept, commit.solved_threshold)
    _, _, by_seeds = history_coverage(con, seeds, commit.solved_threshold)
    values = {"coverage_history": len(solved) / n if n else 0.0, "coverage_history_seeds": len(by_seeds) / n if n else 0.0,
              "history_beyond_seeds": float(len(solved - by_seeds))}
    return [{"generation": commit.generation, "name": k, "value": v} for k, v in values.items()]


def _insert(con: duckdb.DuckDBPyConnection, table: str, columns: list[str], rows: list[dict], verb: str) -> None:
    """``verb`` (INSERT or INSERT OR IGNORE) ``rows`` into ``table`` by name, as ``columns``: a
    listed key a row lacks is NULL; a table column not listed takes its default.  Every string,
    also inside list and dict values, is cleaned first (:func:`acdc_core.text.clean_text`), so no
    text a family, a model or a judge produced can make the insert fail."""
    frame = [{c: _clean(r.get(c)) for c in columns} for r in rows]
    con.register("_rows", pd.DataFrame(frame, columns=columns))
    con.execute(f"{verb} INTO {table} BY NAME SELECT * FROM _rows")
    con.unregister("_rows")


def _clean(value: object) -> object:
    """``value`` with every string in it (dict keys too) cleaned; other values unchanged."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    return value


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)
