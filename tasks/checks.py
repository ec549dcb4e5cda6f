"""What the CLI checks and reports: which of the models a config names cannot be loaded offline,
how task code would be contained here (``acdc validate``), and which errors are the user's input
(one line, exit code 2) rather than a fault."""

from __future__ import annotations

from acdc_core.adapters.benchmark_files import BenchmarkError
from acdc_core.adapters.sandbox import describe_isolation
from acdc_core.adapters.seeds import offline_model_problems
from acdc_core.config import RunConfig
from tasks.policies import BAD_INPUT

USER_ERRORS: tuple[type[Exception], ...] = (*BAD_INPUT, BenchmarkError)
"""What the CLI reports as the user's input: :data:`tasks.policies.BAD_INPUT` and a benchmark that is
unknown or whose data package is missing (``acdc assess``)."""


def offline_problems(cfg: RunConfig) -> list[str]:
    """One line per model ``cfg`` names that this machine cannot load offline (empty: all load)."""
    return offline_model_problems(cfg)


def sandbox_isolation(cfg: RunConfig) -> str:
    """How task code would be isolated here under ``cfg``'s ``sandbox.allow_weak_isolation``."""
    return describe_isolation(cfg.sandbox.allow_weak_isolation)
