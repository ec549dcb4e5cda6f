"""Progress lines with counts and ETA, written through the Prefect run logger."""

from __future__ import annotations

import logging
import time


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
