"""What ``acdc validate`` checks on this machine beyond a config's schema: which of the models it
names cannot be loaded offline, and how task code would be contained here."""

from __future__ import annotations

from acdc_core.adapters.sandbox import describe_isolation
from acdc_core.adapters.seeds import offline_model_problems
from acdc_core.config import RunConfig


def offline_problems(cfg: RunConfig) -> list[str]:
    """One line per model ``cfg`` names that this machine cannot load offline (empty: all load)."""
    return offline_model_problems(cfg)


def sandbox_isolation(cfg: RunConfig) -> str:
    """How task code would be isolated here under ``cfg``'s ``sandbox.allow_weak_isolation``."""
    return describe_isolation(cfg.sandbox.allow_weak_isolation)
