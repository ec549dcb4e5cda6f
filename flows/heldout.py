"""The transfer half of a generation (:mod:`acdc_core.transfer`), composed of steps.

- :func:`noise_floor_of`: each parent re-sampled on what its children found, before the archive
  update (which may credit children by it, ``noise.aware_selection``);
- :func:`heldout_of`: held-out instances drawn for the families this generation admitted, then
  every archive member and seed answering the held-out instances it has not answered, and the
  archive's and the seeds' held-out coverage.

Nothing is written there: the rows join the generation's one commit.  ``acdc transfer``
(``flows/transfer.py``) reads them after a run.
"""

from __future__ import annotations

from acdc_core.steps import ChildEffects, HeldoutOutcome, TaskSide
from acdc_core.taskfamily import TaskSet
from acdc_core.transfer import HeldoutCoverage, NoiseFloor, noise_floor
from flows.runner import each
from tasks.run_folder import RunContext
from tasks.transfer import (
    answer_heldout,
    draw_heldout,
    heldout_outcome,
    heldout_pool,
    missing_heldout,
    pairs_hash,
    resample_parent,
    resample_sets,
    undrawn_families,
)


def noise_floor_of(run_dir: str, generation: int, tasks: TaskSet, effects: ChildEffects) -> NoiseFloor:
    """The noise floor of the children in ``effects``: every parent answers the instances of
    ``tasks`` its children found, ``noise.samples`` times each."""
    cfg = RunContext.load(run_dir).config
    n, sets = cfg.noise, resample_sets(tasks, effects)
    if not n.samples or not sets:
        return NoiseFloor(effects.found(), {}, n.samples)
    sampled = each(resample_parent, [{"run_dir": run_dir, "model_id": p, "task_set": pairs_hash(s), "tasks": s,
                                      "generation": generation} for p, s in sets.items()])
    return noise_floor(effects.found(), effects.parents(), [r for rows in sampled for r in rows], n.samples,
                       cfg.evaluation.solved_threshold)


def answer_missing(run_dir: str, pool: TaskSet, missing: dict[str, dict[str, list[str]]], samples: int = 0,
                   temperature: float = 0.0) -> list[dict]:
    """``heldout_answers`` rows of each model of ``missing`` ({model_id: {task_id: [instance_id]}})."""
    calls = []
    for m, by_task in missing.items():
        s = pool.only({t: sorted(set(i)) for t, i in sorted(by_task.items())})
        calls.append({"run_dir": run_dir, "model_id": m, "task_set": pairs_hash(s), "tasks": s, "samples": samples,
                      "temperature": temperature})
    return [r for rows in each(answer_heldout, calls) for r in rows]


def heldout_of(run_dir: str, generation: int, seed_tasks: TaskSet, side: TaskSide, kept: list[str],
               seed_ids: list[str]) -> HeldoutOutcome:
    """Draw held-out instances for the families that need them, let the archive ``kept`` and
    the seeds answer every held-out instance they have not answered, and measure coverage."""
    if not RunContext.load(run_dir).config.heldout.instances:
        return HeldoutOutcome(HeldoutCoverage(0, 0.0, 0.0, 0))
    undrawn = undrawn_families(run_dir, generation, seed_tasks, side.changes)
    instances, draws = draw_heldout(run_dir, undrawn.hash, undrawn, generation) if undrawn else ([], [])
    pool = heldout_pool(run_dir, undrawn, instances)
    missing = missing_heldout(run_dir, list(dict.fromkeys(kept + seed_ids)), instances)
    answers = answer_missing(run_dir, pool, missing)
    return heldout_outcome(run_dir, generation, pool, kept, seed_ids, instances, draws, answers)
