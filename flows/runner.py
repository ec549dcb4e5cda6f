"""Where a run's model steps execute: in the flow process, or on a Dask cluster (``runner`` in
the config).

The flows call :func:`each` for steps that run one model each (a candidate's screen and
evaluation, a stored model answering a task set).  Under Prefect's default task runner the calls
run one after another in the flow process, sharing its resident models; under a Dask runner they
are submitted together and run in parallel on the workers, each worker process keeping the
models it loaded.  Results come back in call order either way, so a run's rows do not depend on
the runner.  Workers never write the database: they return rows, and the flow commits them.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

from prefect.context import FlowRunContext
from prefect.task_runners import ThreadPoolTaskRunner

from acdc_core.config import RunnerSection


def each(step, calls: list[dict], done: Callable[[dict, Any], None] = lambda _kwargs, _result: None) -> list:
    """Run the Prefect task ``step`` once per keyword set in ``calls``; results in call order.

    Sequential in the flow process under the default (thread-pool) runner, where the models a
    step loads are shared process state; submitted all at once under a distributed runner.
    ``done(kwargs, result)`` is called on each call's result in order (progress lines).
    """
    ctx = FlowRunContext.get()
    if ctx is None or isinstance(ctx.task_runner, ThreadPoolTaskRunner):
        results = []
        for kwargs in calls:
            results.append(step(**kwargs))
            done(kwargs, results[-1])
        return results
    futures = [step.submit(**kwargs) for kwargs in calls]
    results = []
    for kwargs, f in zip(calls, futures):
        results.append(f.result())
        done(kwargs, results[-1])
    return results


@contextmanager
def task_runner(section: RunnerSection) -> Iterator[Any]:
    """The task runner a run's generation flows use, or None for Prefect's default.

    For ``dask`` without an ``address`` a local cluster of ``section.workers`` single-threaded
    processes is started on loopback for the whole run (so workers keep their resident models
    from one generation to the next) and closed at the end.

    Raises:
        ImportError: naming the extra to install when ``prefect-dask`` is absent.
    """
    if section.kind == "default":
        yield None
        return
    try:
        from distributed import LocalCluster
        from prefect_dask import DaskTaskRunner
    except ImportError as exc:
        raise ImportError("runner.kind: dask needs prefect-dask: pip install 'acdc[dask]'") from exc
    if section.address:
        yield DaskTaskRunner(address=section.address)
        return
    with LocalCluster(n_workers=section.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        yield DaskTaskRunner(address=cluster.scheduler_address)
