"""Prefect flows: one per generation (``generation_flow``) and one for the run (``acdc_run``)."""
