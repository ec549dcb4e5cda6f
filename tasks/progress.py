"""Progress lines with counts and ETA, written through the Prefect run logger."""

from __future__ import annotations

import logging
import time

from acdc_core.steps import Bred


def fmt_seconds(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class StepProgress:
    """Counts one step's items: ``tick()`` after each logs ``label i/n · elapsed · ETA``."""

    def __init__(self, logger: logging.Logger | logging.LoggerAdapter, prefix: str, label: str, total: int):
        self.logger, self.prefix, self.label, self.total = logger, prefix, label, total
        self.done = 0
        self.t0 = time.perf_counter()

    def tick(self, detail: str = "") -> None:
        self.done += 1
        elapsed = time.perf_counter() - self.t0
        eta = elapsed / self.done * (self.total - self.done)
        extra = f" · {detail}" if detail else ""
        self.logger.info(
            "%s %s %d/%d%s · %s elapsed · ETA %s",
            self.prefix, self.label, self.done, self.total, extra, fmt_seconds(elapsed), fmt_seconds(eta),
        )


class TrainProgress:
    """A fine-tune's progress: a terminal bar (step, loss, ETA) and, every ``every`` steps, a
    log line for the Prefect UI.  Call it as ``finetune``'s ``progress``; ``close()`` at the end."""

    def __init__(self, logger: logging.Logger | logging.LoggerAdapter, label: str, total: int, every: int = 10):
        from tqdm.auto import tqdm

        self.logger, self.label, self.every = logger, label, every
        self.bar = tqdm(total=total, desc=label, unit="step", leave=False, disable=None)  # no bar off a TTY
        self.t0 = time.perf_counter()

    def __call__(self, step: int, total: int, loss: float) -> None:
        self.bar.update(step - self.bar.n)
        self.bar.set_postfix(loss=f"{loss:.3f}")
        if step % self.every == 0 or step == total:
            elapsed = time.perf_counter() - self.t0
            self.logger.info("%s: step %d/%d · loss %.3f · %s elapsed · ETA %s", self.label, step, total,
                             loss, fmt_seconds(elapsed), fmt_seconds(elapsed / step * (total - step)))

    def close(self) -> None:
        self.bar.close()


def mean_score(rows: list[dict]) -> float:
    """Mean ``score`` of evaluation rows (0.0 for none)."""
    return sum(r["score"] for r in rows) / len(rows) if rows else 0.0


def bred_line(b: Bred) -> str:
    """What became of a child made, screened and evaluated: its operator, id and verdict."""
    v = b.verdict
    what = "a known model, dropped" if v is None else "gibberish" if v.is_gibberish else \
        f"mean score {mean_score(v.rows):.3f}"
    return f"{b.child.operator} -> {b.child.model_id} {what}"


def generation_line(prefix: str, m: dict[str, float]) -> str:
    """The line a committed generation logs, from its stored metrics ``m`` by name."""
    held = (f", {m['coverage_heldout']:.2f} of the {m['heldout_instances']:.0f} held-out instances (seeds "
            f"{m['coverage_heldout_seeds']:.2f}; {m['heldout_beyond_seeds']:.0f} no seed solves)"
            if "coverage_heldout" in m else "")
    lo, hi = m.get("coverage_history_lo", 0.0), m.get("coverage_history_hi", 0.0)
    sampled = (f" [{lo:.2f}, {hi:.2f}] from {m['history_sampled']:.0f} of {m['history_retired']:.0f} retired "
               "instances" if hi > lo else "")
    survive = (f" ({m['children_new_robust']:.0f} survive the parents' resampling)"
               if "children_new_robust" in m else "")
    return (
        f"{prefix} committed: {m['n_candidates']:.0f} candidates, {m['n_gibberish']:.0f} gibberish, "
        f"{m['n_admitted']:.0f} admitted, {m.get('archive_evicted', 0):.0f} evicted, "
        f"{m.get('children_new_instances', 0):.0f} instances solved by a child and no parent{survive}; "
        f"archive {m['archive_size']:.0f} ({m['distinct_skill_vectors']:.0f} distinct skill vectors), best fitness "
        f"{m['best_fitness']:.3f}; coverage {m['coverage_history']:.2f}{sampled} of the task history (seeds "
        f"{m['coverage_history_seeds']:.2f}; {m['history_beyond_seeds']:.0f} instances no seed solves){held}, "
        f"{m['coverage_active']:.2f} of the active pool; tasks {m['tasks_active']:.0f} active "
        f"({100 * m['discriminating_share']:.0f}% discriminating), Vendi {m['vendi_cumulative']:.2f} cumulative; "
        f"{m['seconds']:.0f} s"
    )
