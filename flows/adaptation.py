"""Task adaptation as a Prefect subflow (ALGORITHM.md step 7), run after every
``adaptation.every``-th generation.

pass rates over the archive -> drop the unsolved -> sample parents, choose operations -> the
scientist writes -> validate -> novelty filter -> the archive answers the new tasks -> errors and
impossible tasks go back to the scientist (up to ``reflection_rounds``) -> admit, retire the
replaced parents, prune the pool to its cap -> the seeds outside the archive answer the admitted
tasks (the reference the archive's coverage of the task history is measured against).  Nothing
is written here: the returned rows join the generation's one commit.
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from acdc_core.steps import TaskChanges
from acdc_core.taskfamily import TaskSet
from flows.runner import each
from tasks.adaptation import (
    admitted_tasks,
    ask_scientist,
    conclude,
    embed_tasks,
    novelty_filter,
    start_adaptation,
    start_reflection,
    validate_replies,
)
from tasks.evaluation import evaluate_model


@flow(name="acdc-task-adaptation", flow_run_name="tasks-after-generation-{generation}")
def adapt_tasks(run_dir: str, generation: int, archive_ids: list[str], rates: dict[str, float],
                reference_ids: list[str]) -> TaskChanges:
    """Adapt the task pool against the archive ``archive_ids`` (after this generation's update).
    Its parameters are ids and one rate per active task: nothing that grows with the history.

    Args:
        rates: pass rate of every active task over ``archive_ids``, this generation's admitted
            children included (see :func:`acdc_core.adaptation.pass_rates`).
        reference_ids: models that answer the admitted tasks without taking part in admitting
            them (the seeds outside the archive), so that every model of the reference set has
            answered the whole task history.

    Returns:
        The admitted families' rows, embeddings, proposals, events, the archive's and the
        reference models' evaluation rows on the admitted tasks, the retired task ids and the
        statistics (:class:`acdc_core.steps.TaskChanges`).
    """
    log = get_run_logger()
    start = start_adaptation(run_dir, generation, rates)
    state = start_reflection(run_dir, generation, start, archive_ids)
    while not state.done:
        pending, (attempts, errors) = state.pending, state.asked_attempts()
        replies = ask_scientist(run_dir, generation, state.round, pending, attempts, errors)
        checked = validate_replies(run_dir, replies, pending, state.known_ids, state.known_names)
        valid = state.valid(checked)
        found = [checked[i].task for i in valid]
        emb = embed_tasks(run_dir, TaskSet(families=tuple(found)), generation) if valid else []
        nov = novelty_filter(run_dir, found, *state.novelty_query(valid, emb), state.novelty_history()) if valid else []
        cands = state.candidates(checked, valid, nov)
        rows = _answers(run_dir, archive_ids, cands)
        report = state.conclude_round(replies, checked, valid, emb, nov, rows, cands)
        log.info("scientist round %d: %d replies, %d valid, %d admitted, %d sent back for reflection",
                 report.round, report.replies, report.valid, report.admitted, report.retried)
    return conclude(run_dir, generation, start, state, _answers(run_dir, reference_ids, admitted_tasks(state)))


def _answers(run_dir: str, model_ids: list[str], tasks: TaskSet) -> list[dict]:
    """Evaluation rows of ``model_ids`` on ``tasks`` (none when there are none)."""
    if not tasks:
        return []
    return [r for rows in each(evaluate_model, [{"run_dir": run_dir, "model_id": m, "task_set": tasks.hash,
                                                 "tasks": tasks} for m in model_ids]) for r in rows]
