"""Does what the loop selects hold outside the pool?  Held-out instances and the noise floor.

**Held-out instances.**  Every admitted family draws a second set of instances from its own
generator on another seed (the sandbox's ``draw``); those whose instructions equal an instance
the run selects on are left out, so the two sets are disjoint.  They are answered by every archive
member and every seed, and never read by selection, DNS, adaptation or the task force's choice:
coverage of them is the transfer the run actually achieved.

**Noise floor.**  A child "finds" an instance when it solves it and no parent does, greedily.
At 135M one greedy pass bit is partly chance: a parent sampled ``k`` times at a temperature may
solve it too.  An instance found by a child *survives* when no parent solves it in any of its
samples; the surviving share is how much of "new" is more than a re-draw.

A *key* is ``"task_id/instance_id"``; a score row is ``(model_id, task_id, instance_id, score)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from acdc_core.taskfamily import TaskSet

HELDOUT_PREFIX = "h"  # held-out instance ids: "h" + the drawn id, never equal to a selection id


def pick_heldout(selection_instructions: Iterable[str], drawn: dict[str, dict], n: int) -> dict[str, dict]:
    """Up to ``n`` held-out instances out of a family's re-seeded draw ``drawn`` ({id: {"task",
    "instructions"}}): those whose instructions differ from every selection instance's and from
    each other's, in id order, their ids prefixed with :data:`HELDOUT_PREFIX`.  Fewer (or none)
    when the family's generator cannot produce more distinct ones."""
    seen = {s.strip() for s in selection_instructions}
    out: dict[str, dict] = {}
    for iid in sorted(drawn, key=lambda k: (len(k), k)):
        text = drawn[iid]["instructions"].strip()
        if text in seen:
            continue
        seen.add(text)
        out[HELDOUT_PREFIX + iid] = drawn[iid]
        if len(out) == n:
            break
    return out


def replicate(tasks: TaskSet, samples: int) -> TaskSet:
    """``tasks`` with every instance repeated ``samples`` times, as ``"<id>#<k>"`` (k = 1 ..
    ``samples``), so that one sampled batch answers each instance ``samples`` times."""
    return TaskSet(families=tuple(
        f.with_instances({f"{iid}#{k}": inst for iid, inst in f.sorted_instances() for k in range(1, samples + 1)})
        for f in tasks.families))


def split_sample(instance_id: str) -> tuple[str, int]:
    """(instance id, sample k) of a :func:`replicate` id; (id, 0) for a plain one."""
    iid, _, k = instance_id.rpartition("#")
    return (iid, int(k)) if iid and k.isdigit() else (instance_id, 0)


def solved_keys(rows: Iterable[tuple[str, str, str, float]], model_ids: Iterable[str],
                threshold: float) -> set[str]:
    """Keys solved (score >= ``threshold``) by at least one of ``model_ids`` in ``rows``."""
    wanted = set(model_ids)
    return {f"{t}/{i}" for m, t, i, s in rows if m in wanted and s >= threshold}


@dataclass(frozen=True)
class HeldoutCoverage:
    """Held-out coverage of the archive and of the seeds over ``n`` held-out instances.

    Attributes:
        n: held-out instances of the whole task history.
        archive: share the archive solves (0 when ``n`` is 0).
        seeds: share the seeds solve.
        beyond_seeds: instances the archive solves and no seed does.
    """

    n: int
    archive: float
    seeds: float
    beyond_seeds: int

    def metrics(self) -> dict[str, float]:
        """The generation's metric rows by name; none without held-out instances."""
        if not self.n:
            return {}
        return {"heldout_instances": self.n, "coverage_heldout": self.archive,
                "coverage_heldout_seeds": self.seeds, "heldout_beyond_seeds": self.beyond_seeds}


def heldout_coverage(rows: Iterable[tuple[str, str, str, float]], keys: set[str], archive_ids: list[str],
                     seed_ids: list[str], threshold: float) -> HeldoutCoverage:
    """Coverage of the held-out ``keys`` by the archive and by the seeds, from greedy score
    rows (rows of other keys are ignored)."""
    rows = [r for r in rows if f"{r[1]}/{r[2]}" in keys]
    by_archive, by_seeds = solved_keys(rows, archive_ids, threshold), solved_keys(rows, seed_ids, threshold)
    n = len(keys)
    return HeldoutCoverage(n, len(by_archive) / n if n else 0.0, len(by_seeds) / n if n else 0.0,
                           len(by_archive - by_seeds))


@dataclass(frozen=True)
class NoiseFloor:
    """The noise floor of one generation's children.

    Attributes:
        found: {child id: keys it solves and no parent solves greedily}.
        reached: {key: how many of the parents' samples solved it} for every found key.
        samples: samples per parent per key.
    """

    found: dict[str, tuple[str, ...]]
    reached: dict[str, int]
    samples: int

    def survivors(self, child: str) -> tuple[str, ...]:
        """The child's found keys that no parent solved in any sample."""
        return tuple(k for k in self.found.get(child, ()) if self.reached.get(k, 0) == 0)

    def noise(self, child: str) -> tuple[str, ...]:
        """The child's found keys that some parent solved when sampled."""
        return tuple(k for k in self.found.get(child, ()) if self.reached.get(k, 0) > 0)

    def metrics(self) -> dict[str, float]:
        """``children_new_robust``: distinct found keys that survive; ``new_survive_share``:
        their share of the distinct found keys (1.0 when nothing was found).  None without
        samples (nothing was measured)."""
        if not self.samples:
            return {}
        found = {k for keys in self.found.values() for k in keys}
        robust = {k for c in self.found for k in self.survivors(c)}
        return {"children_new_robust": len(robust), "new_survive_share": len(robust) / len(found) if found else 1.0}


def noise_floor(found: dict[str, tuple[str, ...]], parents: dict[str, tuple[str, ...]],
                sampled: Iterable[tuple[str, str, str, float]], samples: int, threshold: float) -> NoiseFloor:
    """Count, for each key a child found, the samples in which one of *its* parents solved it.

    Args:
        found: {child id: keys it solves and no parent solves greedily}.
        parents: {child id: parent ids}.
        sampled: (parent id, task_id, instance_id, score) rows, one per sample.
        samples: how many samples each parent drew per key.
    """
    hits: dict[tuple[str, str], int] = {}
    for m, t, i, s in sampled:
        if s >= threshold:
            hits[(m, f"{t}/{i}")] = hits.get((m, f"{t}/{i}"), 0) + 1
    reached: dict[str, int] = {}
    for child, keys in found.items():
        for k in keys:
            reached[k] = max(reached.get(k, 0), sum(hits.get((p, k), 0) for p in parents.get(child, ())))
    return NoiseFloor(found, reached, samples)


def credited_rows(rows: list[tuple[str, str, str, float]], noise: NoiseFloor) -> list[tuple[str, str, str, float]]:
    """Score rows for selection with each child's noise removed: a key a child found that a parent
    reaches when sampled scores 0 for that child (its stored evaluation is untouched)."""
    drop = {(c, k) for c in noise.found for k in noise.noise(c)}
    return [(m, t, i, 0.0 if (m, f"{t}/{i}") in drop else s) for m, t, i, s in rows]


def mean_interval(values: list[float], level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): the mean of ``values`` and its Student-t interval over them (the mean
    itself as both ends for one value; NaNs for none)."""
    from scipy.stats import t

    x = np.asarray(values, dtype=float)
    if not len(x):
        return float("nan"), float("nan"), float("nan")
    if len(x) == 1:
        return float(x[0]), float(x[0]), float(x[0])
    half = float(t.ppf(1 - (1 - level) / 2, len(x) - 1)) * x.std(ddof=1) / np.sqrt(len(x))
    return float(x.mean()), float(x.mean() - half), float(x.mean() + half)
