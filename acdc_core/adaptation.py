"""Task adaptation, the pure part (ALGORITHM.md step 7): which tasks go, which parents are
rewritten how, how the pool is refilled and capped, and which tasks discriminate between models.

``scores`` everywhere are score rows ``(model_id, task_id, instance_id, score)`` as stored in the
``evaluations`` table (see :mod:`acdc_core.skills`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from acdc_core.scientist.base import TaskRequest
from acdc_core.skills import Granularity, ScoreRow, skill_table
from acdc_core.taskfamily import TaskSet

PARENT_FIELDS = {"task_id", "name", "code", "description", "capability", "domain"}  # what a request shows


def pass_rates(scores: list[ScoreRow], model_ids: list[str], task_ids: list[str],
               solved_threshold: float = 0.5, granularity: Granularity = "instance") -> dict[str, float]:
    """Per task family, how often ``model_ids`` solve it (0.0 with no models or no rows).

    ``instance``: the share of (model, instance) pairs scored >= ``solved_threshold`` (the
    family's instances are those with a row); ``family``: the share of models whose mean over
    the family's instances is >= ``solved_threshold``.
    """
    if not model_ids:
        return {t: 0.0 for t in task_ids}
    table, columns = skill_table(scores, model_ids, task_ids, granularity)
    solved = table >= solved_threshold
    per_task: dict[str, list[int]] = {t: [] for t in task_ids}
    for j, col in enumerate(columns):
        per_task[col.split("/", 1)[0]].append(j)
    return {t: float(solved[:, cols].mean()) if cols else 0.0 for t, cols in per_task.items()}


def discriminating_share(rates: dict[str, float]) -> float:
    """Share of tasks that some but not all models solve (0 < pass rate < 1); 0.0 for none."""
    return float(np.mean([0.0 < r < 1.0 for r in rates.values()])) if rates else 0.0


def choose_operation(pass_rate: float, rng: np.random.Generator, harder_above: float,
                     easier_below: float, novel_new_share: float) -> str:
    """The reference rule: easy (pass rate > ``harder_above``) -> harder; rarely solved
    (< ``easier_below``) -> easier; otherwise a novel variant, completely new with probability
    ``novel_new_share`` and related otherwise."""
    if pass_rate > harder_above:
        return "harder"
    if pass_rate < easier_below:
        return "easier"
    return _novel(rng, novel_new_share)


def _novel(rng: np.random.Generator, novel_new_share: float) -> str:
    return "novel_new" if rng.random() < novel_new_share else "novel_related"


def unsolved_streaks(unsolved_events: list[tuple[int, str]], previous_adaptations: list[int]) -> dict[str, int]:
    """How many adaptations in a row, ending with the latest previous one, found each task
    unsolved and kept it.

    Args:
        unsolved_events: (generation, task_id) of every ``unsolved`` task event.
        previous_adaptations: the generations of earlier adaptations, in any order.
    """
    seen = set(unsolved_events)
    streaks: dict[str, int] = {}
    for task_id in {t for _, t in unsolved_events}:
        n = 0
        for g in sorted(previous_adaptations, reverse=True):
            if (g, task_id) not in seen:
                break
            n += 1
        if n:
            streaks[task_id] = n
    return streaks


@dataclass(frozen=True)
class AdaptationPlan:
    """What one adaptation asks for.

    Attributes:
        dropped: task ids nobody solves, for ``drop_unsolved_after`` adaptations in a row; they
            leave the pool unless :func:`settle_pool` needs them to hold its floor.
        unsolved_kept: task ids nobody solves yet, kept for now (their streak is shorter).
        requests: one :class:`TaskRequest` per sampled parent, then the refill requests (novel
            tasks asked for because drops would shrink the pool below its floor).
    """

    dropped: list[str]
    unsolved_kept: list[str]
    requests: list[TaskRequest]


def plan_adaptation(active: TaskSet, rates: dict[str, float], n_parents: int, rng: np.random.Generator,
                    generation: int, known_names: list[str], harder_above: float = 0.5,
                    easier_below: float = 0.0, novel_new_share: float = 0.2,
                    streaks: dict[str, int] | None = None, drop_after: int = 1, min_pool: int = 0) -> AdaptationPlan:
    """Drop long-unsolved tasks, sample ``n_parents`` parents among the rest (without
    replacement while the pool lasts), pick each one's operation, and ask for one novel task
    more per task that the drops take below ``min_pool``.

    Args:
        active: the active families, in a stable order.
        rates: pass rate over the archive per task id (missing: 0).
        streaks: earlier adaptations in a row that found a task unsolved (see
            :func:`unsolved_streaks`); a task unsolved now is dropped when its streak + 1
            reaches ``drop_after`` (1: at once, the reference rule).
        min_pool: the pool's floor (0: none).
    """
    streaks = streaks or {}
    rate = {t: rates.get(t, 0.0) for t in active.ids}
    unsolved = [t for t in active.ids if rate[t] == 0.0]
    dropped = [t for t in unsolved if streaks.get(t, 0) + 1 >= drop_after]
    kept = [t for t in unsolved if t not in dropped]
    pool = [t for t in active.families if t.task_id not in dropped]
    if not pool:
        return AdaptationPlan(dropped, kept, [])
    refill = max(0, min_pool - len(pool))
    n = n_parents + refill
    picks = rng.choice(len(pool), size=n, replace=n > len(pool))
    requests = []
    for i, j in enumerate(picks):
        parent = {**pool[int(j)].model_dump(include=PARENT_FIELDS), "pass_rate": rate[pool[int(j)].task_id]}
        if i < n_parents:
            op = choose_operation(parent["pass_rate"], rng, harder_above, easier_below, novel_new_share)
        else:
            op = _novel(rng, novel_new_share)
        requests.append(TaskRequest(
            request_id=f"g{generation}-r{i}", operation=op,  # type: ignore[arg-type]
            parent=parent,
            seed=int(rng.integers(2**31)), known_names=tuple(known_names),
        ))
    return AdaptationPlan(dropped, kept, requests)


@dataclass(frozen=True)
class PoolChanges:
    """How an adaptation settles the active pool.

    Attributes:
        dropped: dropped tasks that leave the pool.
        held: dropped tasks kept because the pool would fall below its floor (newest first).
        pruned: tasks over the pool cap, oldest first.
    """

    dropped: list[str]
    held: list[str]
    pruned: list[str]


def settle_pool(active: list[tuple[str, int]], dropped: list[str], replaced: list[str],
                admitted: list[tuple[str, int]], min_pool: int, pool_cap: int) -> PoolChanges:
    """Decide which dropped tasks really leave and which tasks the cap prunes.

    The pool after the adaptation is the active pool minus dropped and replaced tasks plus the
    admitted ones.  While it would hold fewer than ``min(min_pool, pool_cap)`` tasks, the
    newest dropped tasks stay; then the oldest are pruned down to ``pool_cap``.

    Args:
        active: (task_id, created_generation) of the pool before the adaptation.
        dropped: task ids the plan drops; replaced: parents retired by an admitted rewrite.
        admitted: (task_id, created_generation) of the admitted tasks, in admission order.
    """
    gone = set(dropped) | set(replaced)
    remaining = [a for a in active if a[0] not in gone] + admitted
    room = max(0, min(min_pool, pool_cap) - len(remaining))
    created = dict(active)
    newest_first = sorted((t for t in dropped if t not in replaced), key=lambda t: -created.get(t, 0))
    held = newest_first[:room]
    kept = [a for a in active if a[0] not in gone or a[0] in held] + admitted
    return PoolChanges([t for t in dropped if t not in held], held, prune_oldest(kept, pool_cap))


def prune_oldest(active: list[tuple[str, int]], cap: int) -> list[str]:
    """Task ids to retire so that at most ``cap`` stay: the oldest first.

    Args:
        active: (task_id, created_generation) of the active pool, in admission order within a
            generation (ties keep that order).
    """
    excess = len(active) - cap
    if excess <= 0:
        return []
    order = sorted(range(len(active)), key=lambda i: (active[i][1], i))
    return [active[i][0] for i in order[:excess]]


UNSOLVABLE = "no archive model solves any instance of this task; make it solvable (easier)"


def proposal_verdict(error: str | None, novelty_status: str | None, novelty_reason: str | None,
                     pass_rate: float | None) -> tuple[str, str | None]:
    """(status, reason) of one scientist reply: ``invalid`` (it failed validation, ``error``),
    the novelty filter's rejection (``not_novel`` / ``not_interesting``), ``impossible`` (no
    archive model solves any of it: ``pass_rate`` 0), else ``admitted`` (reason None)."""
    if error is not None:
        return "invalid", error
    if novelty_status is not None:
        return novelty_status, novelty_reason
    if pass_rate == 0.0:
        return "impossible", UNSOLVABLE
    return "admitted", None


@dataclass(frozen=True)
class Admission:
    """A task the adaptation admitted: its id and name, and the request it answered
    (``operation``; ``parent_id``, the task it rewrote or was inspired by)."""

    task_id: str
    name: str
    operation: str
    parent_id: str


@dataclass(frozen=True)
class AdaptationOutcome:
    """What an adaptation does to the pool: ``deactivate`` (task ids leaving it, in order),
    ``events`` (``task_events`` rows: replaced, dropped_unsolved, unsolved, restored, pruned)
    and ``stats`` (the ``tasks_*`` metrics)."""

    deactivate: list[str]
    events: list[dict]
    stats: dict[str, int]


def conclude_adaptation(generation: int, active: list[tuple[str, int]], plan: AdaptationPlan,
                        admitted: list[Admission], final: dict[str, str], n_reflections: int,
                        streaks: dict[str, int], drop_after: int, n_parents: int, min_pool: int,
                        pool_cap: int) -> AdaptationOutcome:
    """Retire, restore and prune once the scientist's rounds are over.

    An admitted harder/easier rewrite retires its parent ("replaced"); dropped tasks leave unless
    the pool's floor holds them (:func:`settle_pool`); unsolved tasks that stay get an "unsolved"
    event (their streak); the parent of a rewrite that ended impossible is "restored" (it stays);
    the oldest tasks over ``pool_cap`` are pruned.

    Args:
        active: (task_id, created_generation) of the pool before the adaptation.
        admitted: in admission order.
        final: request id -> the last status of its proposal (see :func:`proposal_verdict`).
        n_reflections: proposals made in reflection rounds (round > 0).
    """
    events: list[dict] = []
    deactivate: list[str] = []

    def retire(task_id: str, event: str, detail: str) -> None:
        if task_id not in deactivate:
            deactivate.append(task_id)
            events.append({"generation": generation, "task_id": task_id, "event": event, "detail": detail})

    replaced = []
    for ad in admitted:
        if ad.operation in ("harder", "easier"):
            replaced.append(ad.parent_id)
            retire(ad.parent_id, "replaced", f"{ad.operation} child {ad.name}")
    pool = settle_pool(active, plan.dropped, replaced, [(ad.task_id, generation) for ad in admitted],
                       min_pool, pool_cap)
    for tid in pool.dropped:
        retire(tid, "dropped_unsolved", "no archive model solves it")
    for tid in plan.unsolved_kept + pool.held:
        if tid not in deactivate:
            why = (f"kept: the pool's floor is {min_pool}" if tid in pool.held else
                   f"kept: unsolved {streaks.get(tid, 0) + 1} of {drop_after} adaptations in a row")
            events.append({"generation": generation, "task_id": tid, "event": "unsolved", "detail": why})
    by_id = {r.request_id: r for r in plan.requests}
    for req_id, status in final.items():
        req = by_id[req_id]
        if status == "impossible" and req.operation in ("harder", "easier"):
            events.append({"generation": generation, "task_id": req.parent["task_id"], "event": "restored",
                           "detail": f"its {req.operation} child was impossible"})
    for tid in pool.pruned:
        retire(tid, "pruned", f"pool cap {pool_cap}")
    counts = {s: sum(1 for v in final.values() if v == s)
              for s in ("admitted", "invalid", "not_novel", "not_interesting", "impossible")}
    stats = {
        "tasks_proposed": len(plan.requests),
        "tasks_admitted": counts["admitted"],
        "tasks_rejected_invalid": counts["invalid"],
        "tasks_rejected_not_novel": counts["not_novel"] + counts["not_interesting"],
        "tasks_rejected_impossible": counts["impossible"],
        "tasks_reflections": n_reflections,
        "tasks_dropped_unsolved": len(pool.dropped),
        "tasks_unsolved_kept": len(plan.unsolved_kept) + len(pool.held),
        "tasks_refill_requests": len(plan.requests) - min(n_parents, len(plan.requests)),
        "tasks_replaced": sum(1 for e in events if e["event"] == "replaced"),
        "tasks_pruned": sum(1 for e in events if e["event"] == "pruned"),
    }
    return AdaptationOutcome(deactivate, events, stats)
