"""Prefect steps of an AC/DC generation: thin wrappers that call the core and the adapters,
persist to the run's blob store, and return ids, URIs and small rows (never weights).

Every step takes ``run_dir`` and domain ids; cache keys are built from the run id plus those ids
(a recipe hash, a model's content hash, a task-set hash), so a re-run after a crash takes the
finished steps from Prefect's result cache and redoes only the rest.
"""
