"""The run database's tables: versioned DDL (``NNN_name.sql`` files here, applied in order and
recorded in ``schema_version``) and the columns each write fills."""

from __future__ import annotations

from datetime import datetime, timezone
from importlib import resources

import duckdb

TABLE_COLUMNS = {
    "models": [
        "model_id", "uri", "parents", "operator", "recipe", "merge_config_yaml", "seed",
        "created_generation", "is_gibberish", "gibberish_reason", "archive_status",
    ],
    "lineage": ["child_id", "parent_id", "operator", "generation"],
    "task_families": [
        "task_id", "name", "code", "description", "capability", "domain", "parent_id", "origin",
        "created_generation", "active", "retired_generation",
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


def migrations() -> list[tuple[int, str]]:
    files = sorted(
        f for f in resources.files("storage.schema").iterdir() if f.name.endswith(".sql")
    )
    return [(int(f.name.split("_", 1)[0]), f.read_text()) for f in files]


SCHEMA_VERSION = migrations()[-1][0]


def migrate(con: duckdb.DuckDBPyConnection) -> None:
    """Apply every migration ``con``'s file has not had, each once, in order, each in its own
    transaction recorded in ``schema_version``."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP)")
    done = {r[0] for r in con.execute("SELECT version FROM schema_version").fetchall()}
    for version, ddl in migrations():
        if version in done:
            continue
        con.execute("BEGIN TRANSACTION")
        con.execute(ddl)
        con.execute("INSERT INTO schema_version VALUES (?, ?)", [version, now()])
        con.execute("COMMIT")


def now() -> datetime:
    """The current UTC time as the naive timestamp the tables store."""
    return datetime.now(timezone.utc).replace(tzinfo=None)
