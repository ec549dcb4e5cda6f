"""Seed task set: one task family (METR format) per file; read as text, run only in the sandbox."""
