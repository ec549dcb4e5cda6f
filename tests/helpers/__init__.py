"""Helpers shared by the tests (importable as ``helpers.*``: conftest puts tests/ on the path)."""
