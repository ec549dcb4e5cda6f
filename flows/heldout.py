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

import json
from dataclasses import dataclass, field

from acdc_core.hashing import stable_hash
from acdc_core.taskfamily import TaskFamily, TaskSet
from acdc_core.transfer import HeldoutCoverage, NoiseFloor, heldout_coverage, noise_floor
from flows.runner import each
from tasks.context import RunContext
from tasks.transfer import answer_heldout, draw_heldout, resample_parent

_FAMILY_KEYS = ("task_id", "name", "code", "description", "capability", "domain")


def pairs_hash(tasks: TaskSet) -> str:
    """A cache key of exactly which instances ``tasks`` holds (a task-set hash names families only)."""
    return stable_hash({f.task_id: sorted(f.instances) for f in tasks.families})


def noise_floor_of(run_dir: str, ctx: RunContext, generation: int, tasks: TaskSet, effects: list[dict]) -> NoiseFloor:
    """The noise floor of the children in ``effects`` (``child_effects`` rows): every parent
    answers the instances of ``tasks`` its children found, ``noise.samples`` times each."""
    n = ctx.config.noise
    found = {e["model_id"]: tuple(e["new_solved"]) for e in effects}
    parents = {e["model_id"]: tuple(e["parents"]) for e in effects}
    asked: dict[str, dict[str, set[str]]] = {}
    for child, keys in found.items():
        for p in parents[child]:
            for k in keys:
                t, i = k.split("/", 1)
                asked.setdefault(p, {}).setdefault(t, set()).add(i)
    if not n.samples or not asked:
        return NoiseFloor(found, {}, n.samples)
    sets = {p: tasks.only({t: sorted(i) for t, i in sorted(by_task.items())}) for p, by_task in sorted(asked.items())}
    sampled = each(resample_parent, [{"run_dir": run_dir, "model_id": p, "task_set": pairs_hash(s), "tasks": s,
                                      "generation": generation} for p, s in sets.items()])
    return noise_floor(found, parents, [r for rows in sampled for r in rows], n.samples,
                       ctx.config.evaluation.solved_threshold)


def noise_rows(generation: int, noise: NoiseFloor, parents: dict[str, tuple[str, ...]]) -> list[dict]:
    """``noise_floor`` rows: one per (child, instance it found); none without samples."""
    if not noise.samples:
        return []
    return [{"generation": generation, "model_id": c, "task_id": k.split("/", 1)[0], "instance_id": k.split("/", 1)[1],
             "parent_samples": noise.samples * len(parents.get(c, ())), "parent_solved": noise.reached.get(k, 0)}
            for c, keys in noise.found.items() for k in keys]


@dataclass(frozen=True)
class HeldoutOutcome:
    """What a generation adds to the held-out side: ``instances`` and ``draws`` rows of the
    families it drew, ``answers`` (``heldout_answers`` rows), and the coverage they give."""

    coverage: HeldoutCoverage
    instances: list[dict] = field(default_factory=list)
    draws: list[dict] = field(default_factory=list)
    answers: list[dict] = field(default_factory=list)


def _undrawn(ctx: RunContext, generation: int, seed_tasks: TaskSet, side: dict) -> TaskSet:
    """Families whose held-out instances are to be drawn now: the seed task set (generation 0),
    the families this generation admitted, and any family of the history never drawn (a run
    begun before held-out instances existed)."""
    if generation == 0:
        return seed_tasks
    drawn = ctx.db.heldout_drawn()
    by_task: dict[str, dict] = {}
    for i in side["task_instances"]:
        by_task.setdefault(i["task_id"], {})[i["instance_id"]] = {"task": json.loads(i["task"]),
                                                                  "instructions": i["instructions"]}
    new = [TaskFamily(**{k: f[k] for k in _FAMILY_KEYS}).with_instances(by_task.get(f["task_id"], {}))
           for f in side["task_families"]]
    old = [f for f in ctx.db.task_families() if f["task_id"] not in drawn]
    return TaskSet(families=tuple(TaskSet.from_rows(old).families) + tuple(new))


def heldout_pool(ctx: RunContext, new: TaskSet = TaskSet(), instances: list[dict] = ()) -> TaskSet:
    """Every family with held-out instances, holding those (stored ones and ``instances``, the
    ``heldout_instances`` rows just drawn for the families ``new``), in task id order."""
    stored = ctx.db.heldout_instances()
    for r in instances:
        stored.setdefault(r["task_id"], {})[r["instance_id"]] = {"task": json.loads(r["task"]),
                                                                 "instructions": r["instructions"]}
    families = {f.task_id: f for f in new.families}
    families.update({f["task_id"]: TaskFamily(**{k: f[k] for k in _FAMILY_KEYS})
                     for f in ctx.db.task_families([t for t in stored if t not in families])})
    return TaskSet(families=tuple(families[t].with_instances(v) for t, v in sorted(stored.items()) if v))


def answer_missing(run_dir: str, pool: TaskSet, missing: dict[str, dict[str, list[str]]], samples: int = 0,
                    temperature: float = 0.0) -> list[dict]:
    """``heldout_answers`` rows of each model of ``missing`` ({model_id: {task_id: [instance_id]}})."""
    calls = []
    for m, by_task in missing.items():
        s = pool.only({t: sorted(set(i)) for t, i in sorted(by_task.items())})
        calls.append({"run_dir": run_dir, "model_id": m, "task_set": pairs_hash(s), "tasks": s, "samples": samples,
                      "temperature": temperature})
    return [r for rows in each(answer_heldout, calls) for r in rows]


def heldout_of(run_dir: str, ctx: RunContext, generation: int, seed_tasks: TaskSet, side: dict,
               kept: list[str], seed_ids: list[str]) -> HeldoutOutcome:
    """Draw held-out instances for the families that need them, let the archive ``kept`` and
    the seeds answer every held-out instance they have not answered, and measure coverage."""
    h, thr = ctx.config.heldout, ctx.config.evaluation.solved_threshold
    if not h.instances:
        return HeldoutOutcome(HeldoutCoverage(0, 0.0, 0.0, 0))
    undrawn = _undrawn(ctx, generation, seed_tasks, side)
    instances, draws = draw_heldout(run_dir, undrawn.hash, undrawn, generation) if undrawn else ([], [])
    pool = heldout_pool(ctx, undrawn, instances)
    models = list(dict.fromkeys(kept + seed_ids))
    missing: dict[str, dict[str, list[str]]] = {}
    for m, t, i in ctx.db.heldout_missing(models):
        missing.setdefault(m, {}).setdefault(t, []).append(i)
    for m in models:
        for r in instances:
            missing.setdefault(m, {}).setdefault(r["task_id"], []).append(r["instance_id"])
    answers = [{**r, "generation": generation, "source": "run"} for r in answer_missing(run_dir, pool, missing)]
    rows = ctx.db.heldout_scores(models) + [(r["model_id"], r["task_id"], r["instance_id"], r["score"])
                                            for r in answers]
    keys = {f"{f.task_id}/{i}" for f, i, _ in pool.instances()}
    return HeldoutOutcome(heldout_coverage(rows, keys, kept, seed_ids, thr), instances, draws, answers)
