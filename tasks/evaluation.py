"""Steps that run models: a new child made, screened and evaluated in one step, an admitted
child's answers to the retired tasks, and the evaluation of known models on a task set."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from prefect import get_run_logger, task

from acdc_core.adapters.backends import ModelBackend
from acdc_core.adapters.evaluation import evaluate, gibberish_check
from acdc_core.adapters.weights import StateDict
from acdc_core.recipes import Candidate, ChildRecipe
from acdc_core.steps import Bred, Verdict
from acdc_core.taskfamily import TaskSet
from storage import queries
from tasks import sessions
from tasks.breeding import child_weights, make_weights, stage_child
from tasks.policies import cache_key, retry_unless_bad_input
from tasks.progress import mean_score
from tasks.run_folder import RunContext


@contextmanager
def _candidate_session(ctx: RunContext, template: str, weights: StateDict) -> Iterator[ModelBackend]:
    """The run's candidate model (loaded from the stored model ``template``) with ``weights``
    swapped in."""
    with sessions.candidate_backend(ctx, template) as backend:
        backend.load_weights(weights)
        yield backend


@task(
    name="make-screen-evaluate",
    retries=1,
    retry_condition_fn=retry_unless_bad_input,
    cache_key_fn=cache_key("bred", "recipe", "known", "task_set", "prompts"),  # results are Bred
    persist_result=True,
)
def breed_child(run_dir: str, recipe: ChildRecipe, known: list[str], task_set: str, tasks: TaskSet,
                prompts: list[str]) -> Bred:
    """A new child made and judged in one step, in the process that evaluates it (a Dask worker
    under the ``dask`` runner), so the flow never holds its weights: merged and/or mutated per
    ``recipe``; dropped unevaluated when its id is in ``known``; otherwise its weights swapped into
    the run's candidate model for the gibberish screen on a few sampled instructions (the
    heuristic, or the run's LLM judge with ``gibberish.method: llm_judge``; skipped with
    ``none``), then, if it passes, evaluated on every instance of ``tasks`` (identified by
    ``task_set``) and its folder staged for the archive (:func:`tasks.breeding.stage_child`).
    This process keeps none of its weights afterwards.

    Returns its :class:`acdc_core.steps.Bred`: the :class:`Candidate` and its :class:`Verdict`
    (``rows`` as :func:`evaluate_model` returns them; empty for a gibberish model), or no verdict
    for a known model.
    """
    ctx = RunContext.load(run_dir)
    g, e = ctx.config.gibberish, ctx.config.evaluation
    log = get_run_logger()
    child, weights = make_weights(ctx, recipe)
    model_id = child.model_id
    if model_id in known:
        log.info("child %s equals an existing model; dropped", model_id)
        return Bred(child, None)
    with _candidate_session(ctx, recipe.template, weights) as backend:
        verdict, texts = None, []
        if g.method != "none":
            verdict, texts = gibberish_check(
                backend, prompts, e.max_new_tokens,
                judge=sessions.judge(ctx) if g.method == "llm_judge" else None,
                max_repeat_ratio=g.max_repeat_ratio, min_compression_ratio=g.min_compression_ratio,
                max_non_text_ratio=g.max_non_text_ratio,
            )
        rows = [] if verdict and verdict.is_gibberish else evaluate(
            backend, tasks, sessions.sandbox(ctx), e.prompt_template, e.max_new_tokens)
    if verdict and verdict.is_gibberish:
        log.info("model %s discarded as gibberish: %s", model_id, verdict.reason)
    else:
        stage_child(ctx, child, weights)
        log.info("model %s: mean score %.3f over %d instances", model_id, mean_score(rows), len(rows))
    return Bred(child, Verdict(model_id=model_id, is_gibberish=bool(verdict and verdict.is_gibberish),
                               reason=verdict.reason if verdict else None, responses=list(texts),
                               rows=[{**r, "model_id": model_id} for r in rows]))


def retired_task_set(run_dir: str) -> TaskSet:
    """The retired instances of the task history that admitted children answer: the sample of
    ``evaluation.retired_sample`` drawn with ``run.seed`` (:func:`storage.queries.retired_tasks`),
    in their families; empty with ``evaluation.answer_retired`` off."""
    ctx = RunContext.load(run_dir)
    e = ctx.config.evaluation
    return TaskSet.from_rows(ctx.db.read(queries.retired_tasks, e.retired_sample, ctx.config.run.seed)
                             if e.answer_retired else [])


@task(
    name="answer-retired-tasks",
    retries=1,
    retry_condition_fn=retry_unless_bad_input,
    # the sampled families' ids fix the sample's instances: within a run (one seed and size) the
    # first k draws of a retired set all lie in those families, so they are those families' first k
    cache_key_fn=cache_key("retired", "child", "task_set"),
    persist_result=True,
)
def answer_retired(run_dir: str, child: Candidate, task_set: str, tasks: TaskSet) -> list[dict]:
    """An admitted child's answers to ``tasks``, the sample of the task history's retired instances
    (:func:`retired_task_set`, identified by ``task_set``), with its stored weights swapped into the
    run's candidate model as in :func:`breed_child`.  The seeds answer every task ever admitted;
    with these rows every archive model has answered the active families and the sample, so the
    history coverage is exact outside the retired part and estimated on the same sample inside it
    (:func:`storage.queries.history_coverage`).  Skill vectors never read them: they are built over
    the active families.

    Returns evaluation rows as :func:`evaluate_model` returns them.
    """
    ctx = RunContext.load(run_dir)
    e = ctx.config.evaluation
    with _candidate_session(ctx, child.recipe.template, child_weights(ctx, child)) as backend:
        rows = evaluate(backend, tasks, sessions.sandbox(ctx), e.prompt_template, e.max_new_tokens)
    get_run_logger().info("model %s: %d of %d retired instances solved", child.model_id,
                          sum(r["score"] >= e.solved_threshold for r in rows), len(rows))
    return [{**r, "model_id": child.model_id} for r in rows]


@task(
    name="evaluate-model",
    retries=1,
    retry_condition_fn=retry_unless_bad_input,
    cache_key_fn=cache_key("evaluate", "model_id", "task_set"),
    persist_result=True,
)
def evaluate_model(run_dir: str, model_id: str, task_set: str, tasks: TaskSet) -> list[dict]:
    """Answer every instance of ``tasks`` (identified by the hash ``task_set``) and score it, with
    the model from the run's resident pool: the models asked here (seeds, archive members on new
    tasks) are asked again in the next reflection round and the next adaptation.

    Returns one evaluation row per instance (see ``acdc_core.adapters.evaluation.evaluate``), with
    ``model_id`` filled in.
    """
    ctx = RunContext.load(run_dir)
    e = ctx.config.evaluation
    with sessions.resident_backend(ctx, model_id) as backend:
        rows = evaluate(backend, tasks, sessions.sandbox(ctx), e.prompt_template, e.max_new_tokens)
    get_run_logger().info("model %s: mean score %.3f over %d instances", model_id, mean_score(rows), len(rows))
    return [{**r, "model_id": model_id} for r in rows]
