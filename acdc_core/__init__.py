"""AC/DC core: the algorithm (pure) and its adapters (backends, merging, sandbox, seeds)."""
