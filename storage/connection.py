"""Connections to a run's DuckDB file: where it lies in a run folder, and a connect that waits
for a lock another process holds (a user's SQL session, a commit) instead of failing."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

log = logging.getLogger(__name__)

DB_FILE = "acdc.duckdb"  # the run database's name inside a run folder


class RunFolderError(RuntimeError):
    """A run folder's file cannot be read (a damaged database, a malformed ``run.json``); the
    message names the file and what to do."""


def _open(path: Path, read_only: bool, lock_timeout_s: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + lock_timeout_s
    delay, warned = 0.2, False
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as exc:
            if not isinstance(exc, duckdb.IOException) or "lock" not in str(exc):
                reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
                raise RunFolderError(
                    f"{path} is not a readable DuckDB file ({reason}); it may be truncated or "
                    "damaged: restore it from a copy, or start the run in a new folder") from None
            if time.monotonic() + delay > deadline:
                raise
            if not warned:
                log.warning("%s is locked by another process (an open SQL session?); waiting", path)
                warned = True
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


@contextmanager
def connect(path: str | Path, read_only: bool = False, lock_timeout_s: float = 600.0
            ) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the DuckDB file at ``path``, closed on exit; while another process holds
    its lock it waits (up to ``lock_timeout_s`` seconds, logging why once).

    Raises:
        RunFolderError: the file is not a readable DuckDB database.
        duckdb.IOException: the lock was still held after ``lock_timeout_s``.
    """
    con = _open(Path(path), read_only, lock_timeout_s)
    try:
        yield con
    finally:
        con.close()
