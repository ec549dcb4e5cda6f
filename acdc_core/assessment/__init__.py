"""Assessing a run (pure): task-force selection, coverage with bootstrap statistics, and the
best-of-N answer selectors.  No I/O: the steps in ``tasks/assessment.py`` feed them arrays."""
