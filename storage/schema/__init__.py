"""Versioned DDL: ``NNN_name.sql`` files applied in order; ``schema_version`` records them."""
