"""Steps that measure transfer (:mod:`acdc_core.transfer`): drawing held-out instances, stored
models answering them (greedy or sampled), and parents re-sampled on what their children found."""

from __future__ import annotations

import json

from prefect import get_run_logger, task

from acdc_core.adapters.evaluation import evaluate
from acdc_core.adapters.sandbox import SandboxError
from acdc_core.rng import sampling_seed
from acdc_core.taskfamily import TaskSet
from acdc_core.transfer import pick_heldout, replicate, split_sample
from tasks.context import RunContext, cache_key, retry_unless_bad_input

MAX_DRAWN = 64  # instances asked of one re-seeded draw, before those equal to a selection instance go


@task(
    name="draw-heldout",
    retries=1,
    retry_condition_fn=retry_unless_bad_input,
    cache_key_fn=cache_key("heldout-draw", "task_set", "generation"),
    persist_result=True,
)
def draw_heldout(run_dir: str, task_set: str, tasks: TaskSet, generation: int) -> tuple[list[dict], list[dict]]:
    """Held-out instances of the families ``tasks`` (identified by ``task_set``), each drawn in
    the sandbox from its own generator re-seeded for ``heldout.draw`` and disjoint from the
    family's selection instances (:func:`acdc_core.transfer.pick_heldout`).

    Returns:
        (``heldout_instances`` rows, ``heldout_draws`` rows: one per family, with the number
        drawn and the sandbox's error when the draw failed, in which case it has none).
    """
    ctx = RunContext.load(run_dir)
    h = ctx.config.heldout
    sandbox = ctx.sandbox()
    instances, draws = [], []
    for f in tasks.families:
        error = None
        try:
            drawn = sandbox.instances(f.code, min(MAX_DRAWN, 4 * (h.instances + len(f.instances))), draw=h.draw)
            picked = pick_heldout(f.instructions(), drawn, h.instances)
        except SandboxError as exc:
            picked, error = {}, str(exc)[:500]
        instances += [{"task_id": f.task_id, "instance_id": iid, "task": json.dumps(inst["task"]),
                       "instructions": inst["instructions"]} for iid, inst in picked.items()]
        draws.append({"task_id": f.task_id, "draw": h.draw, "n_instances": len(picked), "generation": generation,
                      "error": error})
    get_run_logger().info("held-out instances: %d for %d families (%d families gave none)", len(instances),
                          len(draws), sum(1 for d in draws if not d["n_instances"]))
    return instances, draws


@task(
    name="answer-heldout",
    retries=1,
    retry_condition_fn=retry_unless_bad_input,
    cache_key_fn=cache_key("heldout", "model_id", "task_set", "samples"),
    persist_result=True,
)
def answer_heldout(run_dir: str, model_id: str, task_set: str, tasks: TaskSet, samples: int = 0,
                   temperature: float = 0.0) -> list[dict]:
    """A stored model's answers to the held-out instances ``tasks`` (identified by
    ``task_set``), from the run's resident pool: greedy (``samples`` 0, what coverage reads) or
    ``samples`` draws each at ``temperature`` in one batch (the resampling baseline).

    Returns ``heldout_answers`` rows (sample 0 greedy, 1 .. ``samples`` the draws; ``generation``
    unset).
    """
    ctx = RunContext.load(run_dir)
    e = ctx.config.evaluation
    seed = sampling_seed(ctx.config.run.seed, 0, "heldout", model_id) if samples else 0
    out = []
    for r in _answers(ctx, model_id, tasks, samples, temperature, seed):
        iid, k = split_sample(r["instance_id"]) if samples else (r["instance_id"], 0)
        out.append({"model_id": model_id, "task_id": r["task_id"], "instance_id": iid, "sample": k,
                    "temperature": temperature if samples else 0.0, "score": r["score"], "response": r["response"],
                    "submission": r["submission"], "error": r["error"], "tokens": r["tokens"]})
    get_run_logger().info("model %s: %d of %d held-out answers solved", model_id,
                          sum(r["score"] >= e.solved_threshold for r in out), len(out))
    return out


@task(
    name="resample-parent",
    retries=1,
    retry_condition_fn=retry_unless_bad_input,
    cache_key_fn=cache_key("resample", "model_id", "task_set", "generation"),
    persist_result=True,
)
def resample_parent(run_dir: str, model_id: str, task_set: str, tasks: TaskSet, generation: int) -> list[tuple]:
    """A parent answering the instances ``tasks`` that its children found, ``noise.samples``
    times each at ``noise.temperature`` in one batch.

    Returns (model_id, task_id, instance_id, score) per sample.
    """
    ctx = RunContext.load(run_dir)
    n = ctx.config.noise
    seed = sampling_seed(ctx.config.run.seed, generation, "noise", model_id)
    return [(model_id, r["task_id"], split_sample(r["instance_id"])[0], r["score"])
            for r in _answers(ctx, model_id, tasks, n.samples, n.temperature, seed)]


def _answers(ctx: RunContext, model_id: str, tasks: TaskSet, samples: int, temperature: float,
             seed: int) -> list[dict]:
    """Evaluation rows of the stored model ``model_id`` (resident) on ``tasks``: greedy once per
    instance when ``samples`` is 0, else ``samples`` draws per instance at ``temperature`` in one
    batch (instance ids ``"id#k"``, :func:`acdc_core.transfer.split_sample`)."""
    e = ctx.config.evaluation
    asked, temperature = (replicate(tasks, samples), temperature) if samples else (tasks, 0.0)
    with ctx.resident_backend(model_id) as backend:
        return evaluate(backend, asked, ctx.sandbox(), e.prompt_template, e.max_new_tokens, temperature, seed)
