"""Prefect policies of the steps: which failures are retried, and the keys their results are
cached under."""

from __future__ import annotations

from typing import Any, Callable

from acdc_core.adapters.embedding import EmbedderError
from acdc_core.adapters.finetune import TrainingDiverged
from acdc_core.adapters.seeds import SeedError
from acdc_core.config import ConfigError
from acdc_core.hashing import stable_hash
from acdc_core.taskfamily import TaskFamilyError
from storage.connection import RunFolderError
from tasks.run_folder import run_id_of

BAD_INPUT: tuple[type[Exception], ...] = (ConfigError, SeedError, TaskFamilyError, TrainingDiverged, EmbedderError,
                                          RunFolderError)
"""Errors that mean the input is wrong (a config, seed checkpoint, task family or run folder):
never retried; the CLI reports them (and a bad benchmark file, :data:`tasks.checks.USER_ERRORS`)
as one line with exit code 2."""


def retry_unless_bad_input(_task: Any, _task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry flaky failures (disk, network), never bad input
    (:data:`BAD_INPUT`, which will fail the same way again)."""
    try:
        state.result()
    except BAD_INPUT:
        return False
    except Exception:  # noqa: BLE001 - anything else may pass on a second try
        return True
    return True


def cache_key(step: str, *params: str) -> Callable[[Any, dict], str]:
    """A Prefect ``cache_key_fn``: run id + step name + hash of the named parameters' values."""

    def key_fn(_context: Any, parameters: dict) -> str:
        values = [parameters[p] for p in params]
        return f"acdc-{run_id_of(parameters['run_dir'])}-{step}-{stable_hash(values)}"

    return key_fn
