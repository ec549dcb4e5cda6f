"""What one Prefect task call costs the run, next to the work it wraps.

    .venv/bin/python bench/bench_prefect_overhead.py [--calls 40]

Inside one flow (Prefect's temporary local server, as ``acdc run`` starts it without
``PREFECT_API_URL``), the same trivial step is called ``--calls`` times:

- ``plain``: a Python function;
- ``task``: a ``@task``;
- ``cached task``: a ``@task`` with a ``cache_key_fn`` and ``persist_result=True``, as the run's
  steps are, first run (results written) and second run (every call a cache hit).

Printed: milliseconds per call and the difference to the plain call.  A default generation
without adaptation makes 8 step calls (propose, 4 x make-screen-evaluate, update-archive,
task-diversity, commit); one with adaptation about 50 (24 of them
evaluate-model: 8 archive models x 3 scientist rounds).  Nothing is asserted.
"""

from __future__ import annotations

import argparse
import time
import uuid

from prefect import flow, task


def step(i: int) -> int:
    return i * i


@task(name="bench-step")
def task_step(i: int) -> int:
    return i * i


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=40)
    args = ap.parse_args()
    salt = uuid.uuid4().hex  # a fresh cache per bench run
    cached_step = task(name="bench-cached-step", cache_key_fn=lambda _c, p: f"bench-{salt}-{p['i']}",
                       persist_result=True)(step)

    @flow(name="bench-prefect-overhead")
    def timings() -> dict[str, float]:
        out = {}
        for name, fn in (("plain", step), ("task", task_step), ("cached task, first run", cached_step),
                         ("cached task, cache hits", cached_step)):
            t0 = time.perf_counter()
            for i in range(args.calls):
                fn(i)
            out[name] = (time.perf_counter() - t0) / args.calls * 1000
        return out

    t0 = time.perf_counter()
    ms = timings()
    total = time.perf_counter() - t0
    print(f"{args.calls} calls each, one flow run ({total:.1f} s in all, server start included)")
    print(f"{'call':26s} {'ms per call':>12s} {'over plain':>11s}")
    for name, v in ms.items():
        print(f"{name:26s} {v:12.2f} {v - ms['plain']:11.2f}")


if __name__ == "__main__":
    main()
