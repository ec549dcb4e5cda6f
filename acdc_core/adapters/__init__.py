"""The world the pure core does not touch: model backends (transformers, lm-eval, the resident
pool) behind one batch protocol, chat clients, mergekit merges, weight mutation, fine-tuning,
seed models, embeddings, the sandbox, benchmark files and evaluation (answers, then scores).

The core (``acdc_core`` outside this package) decides; adapters compute with torch, mergekit,
sentence-transformers, lm-eval or subprocesses.  An import-linter contract (``pyproject.toml``)
keeps torch, transformers, mergekit, Prefect and DuckDB out of the core.
"""
