"""Persistence: the run's DuckDB file (versioned schema, repository functions) and the blob store."""
