"""Steps that run models: the gibberish filter and the full evaluation on the task set."""

from __future__ import annotations

from prefect import get_run_logger, task

from acdc_core.evaluation import evaluate, gibberish_check
from tasks.context import RunContext, cache_key, retry_unless_bad_input


@task(
    name="gibberish-filter",
    retries=1,
    retry_condition_fn=retry_unless_bad_input,
    cache_key_fn=cache_key("gibberish", "model_id", "prompts"),
    persist_result=True,
)
def gibberish_filter(run_dir: str, model_id: str, prompts: list[str]) -> dict:
    """Gibberish check of a new model on a few sampled instructions: the heuristic, or the
    run's LLM judge (``gibberish.method: llm_judge``).

    Returns {"model_id", "is_gibberish", "reason", "responses"}; always passes when
    ``gibberish.method`` is ``none``.
    """
    ctx = RunContext.load(run_dir)
    g = ctx.config.gibberish
    if g.method == "none":
        return {"model_id": model_id, "is_gibberish": False, "reason": None, "responses": []}
    backend = ctx.backend(model_id)
    try:
        verdict, texts = gibberish_check(
            backend, prompts, ctx.config.evaluation.max_new_tokens,
            judge=ctx.judge() if g.method == "llm_judge" else None,
            max_repeat_ratio=g.max_repeat_ratio, min_compression_ratio=g.min_compression_ratio,
            max_non_text_ratio=g.max_non_text_ratio,
        )
    finally:
        backend.close()
    if verdict.is_gibberish:
        get_run_logger().info("model %s discarded as gibberish: %s", model_id, verdict.reason)
    return {"model_id": model_id, "is_gibberish": verdict.is_gibberish, "reason": verdict.reason, "responses": texts}


@task(
    name="evaluate-model",
    retries=1,
    retry_condition_fn=retry_unless_bad_input,
    cache_key_fn=cache_key("evaluate", "model_id", "task_set"),
    persist_result=True,
)
def evaluate_model(run_dir: str, model_id: str, task_set: str, tasks: list[dict]) -> list[dict]:
    """Answer every instance of ``tasks`` (identified by the hash ``task_set``) and score it.

    Returns one evaluation row per instance (see ``acdc_core.evaluation.evaluate``), with
    ``model_id`` filled in.
    """
    ctx = RunContext.load(run_dir)
    e = ctx.config.evaluation
    backend = ctx.backend(model_id)
    try:
        rows = evaluate(backend, tasks, ctx.sandbox(), e.prompt_template, e.max_new_tokens)
    finally:
        backend.close()
    mean = sum(r["score"] for r in rows) / max(1, len(rows))
    get_run_logger().info("model %s: mean score %.3f over %d instances", model_id, mean, len(rows))
    return [{**r, "model_id": model_id} for r in rows]
