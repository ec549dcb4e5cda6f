"""The run's DuckDB file as the steps use it: the one module that writes it.

Writes: a generation's rows go through :meth:`RunDB.commit_generation`, one transaction: either
all of a generation's rows are visible or none are.  Outside a generation, the commands that run
after it write their own tables, each in one transaction: ``acdc seeds build``
(:meth:`RunDB.register_seed_expert`), ``acdc assess`` (:meth:`RunDB.insert_rows`,
:meth:`RunDB.save_assessment`, :meth:`RunDB.copy_answers`, benchmark answers) and ``acdc transfer``
(:meth:`RunDB.add_heldout_answers`, :meth:`RunDB.save_transfer`).  Reads are the functions of
:mod:`storage.queries`, run by :meth:`RunDB.read`; the tables and their migrations are
:mod:`storage.schema`; connections come from :mod:`storage.connection`.  Every connection is
short-lived, so a user may query the file between generations (DuckDB allows one writing process
at a time).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

import duckdb
import pandas as pd

from acdc_core.text import clean_text
from storage import queries
from storage.connection import connect
from storage.schema import ASSESSMENT_COLUMNS, TABLE_COLUMNS, migrate, now

log = logging.getLogger(__name__)

T = TypeVar("T")


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
        applied (:func:`storage.schema.migrate`)."""
        path = Path(path)
        if not path.is_file():  # a new file: nobody else can hold it yet
            path.parent.mkdir(parents=True, exist_ok=True)
            duckdb.connect(str(path)).close()
        db = cls(path, lock_timeout_s)  # an existing one is migrated through the lock-waiting connect
        with db.connect() as con:
            migrate(con)
        return db

    def connect(self, read_only: bool = False):
        """A connection to the file (see :func:`storage.connection.connect`), closed on exit."""
        return connect(self.path, read_only, self.lock_timeout_s)

    def read(self, query: Callable[..., T], *args, **kwargs) -> T:
        """``query(con, *args, **kwargs)``, a function of :mod:`storage.queries`, on a connection
        of its own (the writer's mode, so it never clashes with the run's other connections)."""
        with self.connect() as con:
            return query(con, *args, **kwargs)

    # ---- writes outside a generation ---------------------------------------------------------
    def create_run(self, run_id: str, name: str, seed: int, config_yaml: str) -> None:
        with self.connect() as con:
            con.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?)", [run_id, name, now(), seed, config_yaml])

    def add_heldout_answers(self, rows: list[dict]) -> int:
        """Insert ``heldout_answers`` rows outside a generation's commit (answers filled in after
        a run); a row already there is kept.  Returns the number given."""
        if rows:
            with self.connect() as con:
                _insert(con, "heldout_answers", TABLE_COLUMNS["heldout_answers"], rows, "INSERT OR IGNORE")
        return len(rows)

    def register_seed_expert(self, row: dict) -> None:
        """Record a built expert (columns of ``seed_experts``); re-registering the same
        ``model_id`` replaces its row, so a rebuilt expert never duplicates."""
        with self.connect() as con:
            con.execute(
                "INSERT OR REPLACE INTO seed_experts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [row["model_id"], row["name"], row["skill"], row["family"], row["base_model_id"], row["uri"],
                 json.dumps(row["recipe"]), row["loss_curve"], row["train_seconds"], now()],
            )

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

    def copy_answers(self, source: str | Path, model_ids: list[str], items: dict[str, list[int]]) -> int:
        """Copy ``source``'s (another run database's) stored answers of ``model_ids`` to ``items``
        ({benchmark: doc_ids}), with the items' text, skipping answers this run already holds.
        Returns the number of answers copied."""
        with self.connect() as con:
            quoted = Path(source).as_posix().replace("'", "''")
            con.execute(f"ATTACH '{quoted}' AS src (READ_ONLY)")
            try:
                where = "benchmark = ? AND list_contains(?, doc_id)"
                before = queries.count_rows(con, "benchmark_items")
                tables = (("benchmark_items", " AND list_contains(?, model_id)"), ("benchmark_docs", ""))
                for benchmark, doc_ids in items.items():
                    for table, extra in tables:
                        cols = ", ".join(ASSESSMENT_COLUMNS[table])
                        con.execute(f"INSERT OR IGNORE INTO {table} ({cols}) SELECT {cols} FROM src.{table} "
                                    f"WHERE {where}{extra}", [benchmark, doc_ids] + ([model_ids] if extra else []))
                after = queries.count_rows(con, "benchmark_items")
            finally:
                con.execute("DETACH src")
        return after - before

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
                if queries.generation_committed(con, commit.generation):
                    con.execute("ROLLBACK")
                    return False
                _write(con, commit)
                if commit.solved_threshold is not None:
                    _insert(con, "metrics", TABLE_COLUMNS["metrics"], _history_metrics(con, commit), "INSERT")
                con.execute(
                    "INSERT INTO generations VALUES (?, ?, ?, ?, ?, ?)",
                    [commit.generation, now(), commit.n_candidates, commit.n_gibberish,
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
    retired_sample: int | None = None  # their sample of the retired instances (None: all), drawn with
    seed: int = 0                      # the run's seed (evaluation.retired_sample, run.seed)

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
    """The commit's rows and deactivations (also of families it adds), inside the caller's transaction."""
    for table, rows in commit.tables().items():
        if rows:
            _insert(con, table, TABLE_COLUMNS[table], rows, "INSERT OR IGNORE")
    if commit.deactivate:
        con.execute("UPDATE task_families SET active = false, retired_generation = coalesce(retired_generation, ?) "
                    "WHERE list_contains(?, task_id)", [commit.generation, commit.deactivate])


def _history_metrics(con: duckdb.DuckDBPyConnection, commit: GenerationCommit) -> list[dict]:
    """``coverage_history`` with its 95% interval ``coverage_history_lo`` and ``_hi`` (0-1; equal
    while the retired instances fit the sample), ``coverage_history_seeds`` (0-1, exact: the seeds
    answer every instance), ``history_beyond_seeds`` (an estimated count), and the counts
    ``history_retired`` and ``history_sampled`` (retired instances, and those of them in the
    sample), from the rows just written (:func:`storage.queries.history_coverage`)."""
    kept = [r["model_id"] for r in commit.archive]
    cov = queries.history_coverage(con, kept, commit.solved_threshold, None, commit.retired_sample, commit.seed)
    by_seeds = queries.history_coverage(con, queries.seed_ids(con), commit.solved_threshold).solved
    n = cov.n_instances or 1
    solved, lo, hi = cov.estimate()
    values = {"coverage_history": solved / n, "coverage_history_lo": lo / n, "coverage_history_hi": hi / n,
              "coverage_history_seeds": len(by_seeds) / n, "history_beyond_seeds": cov.estimate(cov.solved - by_seeds)[0],
              "history_retired": float(len(cov.retired)), "history_sampled": float(len(cov.sampled))}
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

