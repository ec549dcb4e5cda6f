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
