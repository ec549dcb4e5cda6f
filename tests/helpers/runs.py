"""Helpers of the integration tests: the pico run config, an ``acdc`` subprocess as a user runs it,
and a read of a run's DuckDB file."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, TypeVar

import duckdb

T = TypeVar("T")
DATA = Path(__file__).parent.parent / "data"
TABLE_KEYS = {
    "models": "model_id", "lineage": "child_id, parent_id", "task_families": "task_id",
    "task_instances": "task_id, instance_id", "evaluations": "model_id, task_id, instance_id",
    "archive": "generation, model_id", "metrics": "generation, name", "generations": "generation",
}


def pico_config(seed_path: Path, generations: int = 2) -> dict:
    return {
        "run": {"name": "pico", "seed": 11, "generations": generations},
        "models": {"family": None, "seeds": [{"path": str(seed_path), "name": "pico"}],
                   "initial_mutants": 3, "storage_dtype": "float32"},
        "population": {"archive_size": 3, "children_per_generation": 2},
        "crossover": {"method": "linear"},
        "mutation": {"method": "gaussian", "gaussian_std": 0.5},
        "gibberish": {"method": "none"},
        "evaluation": {"max_new_tokens": 6, "instances_per_task": 2, "batch_size": 64, "torch_threads": 1},
        "tasks": {"include": ["response_hash_0", "response_hash_1", "response_hash_2", "response_hash_3",
                              "add_two_digit", "capital_city"],
                  "extra_dirs": [str(DATA / "families")]},
    }


def three_seed_config(family: dict[str, Path], generations: int, children: int = 3) -> dict:
    """:func:`pico_config` with all three pico models of ``family`` (:func:`pico.build_family`) as
    seeds, an archive of 4, and ``children`` children per generation and initial mutants: the run
    of ``scripts/same_run.py`` and of the long-run benches."""
    cfg = pico_config(family["base"], generations)
    cfg["models"]["seeds"] += [{"path": str(family["expert_a"]), "name": "a"},
                               {"path": str(family["expert_b"]), "name": "b"}]
    cfg["population"] = {"archive_size": 4, "children_per_generation": children}
    cfg["models"]["initial_mutants"] = children
    return cfg


def watch(proc: subprocess.Popen, sample: Callable[[str], T], every: float = 0.1) -> list[T]:
    """``sample(text of /proc/<pid>/status)`` every ``every`` seconds until ``proc`` exits (Linux);
    samples of a process that is gone, or exiting without memory fields, are skipped."""
    samples = []
    while proc.poll() is None:
        try:
            samples.append(sample(Path(f"/proc/{proc.pid}/status").read_text()))
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            pass
        time.sleep(every)
    return samples


def status_mb(status: str, field: str) -> float:
    """A memory field of a ``/proc/<pid>/status`` text (``VmRSS``, ``VmHWM``, ...) in MB."""
    return int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith(field + ":"))) / 1024


def acdc_env(home: Path) -> dict:
    env = dict(os.environ)
    env.update(PREFECT_HOME=str(home / "prefect"), ACDC_CACHE_DIR=str(home / "cache"),
               PREFECT_SERVER_ANALYTICS_ENABLED="false", PYTHONUNBUFFERED="1")
    env.pop("PREFECT_API_URL", None)
    return env


def acdc(args: list[str], env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], env=env, capture_output=True,
                          text=True, timeout=timeout, cwd=Path(__file__).parent.parent.parent)


def table(run_dir: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(run_dir / "acdc.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()
