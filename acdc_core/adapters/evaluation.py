"""Evaluating one model on a task set (:class:`acdc_core.taskfamily.TaskSet`): batched
generation, then sandboxed scoring."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from acdc_core.adapters.backends import ModelBackend
from acdc_core.adapters.sandbox import Sandbox, SandboxError
from acdc_core.answers import clean_output, submission_for
from acdc_core.gibberish import GibberishVerdict, judge_model
from acdc_core.taskfamily import TaskFamily, TaskSet

log = logging.getLogger(__name__)


def build_prompts(tasks: TaskSet, template: str) -> list[tuple[str, str, str]]:
    """(task_id, instance_id, prompt) for every instance, in task then instance order."""
    return [(f.task_id, iid, template.format(instructions=inst.instructions)) for f, iid, inst in tasks.instances()]


def evaluate(
    backend: ModelBackend, tasks: TaskSet, sandbox: Sandbox, template: str, max_new_tokens: int,
    temperature: float = 0.0, seed: int = 0,
) -> list[dict]:
    """Answer every instance in one batched call (greedy, or sampled at ``temperature`` with the
    stream ``seed``), then score each family in the sandbox.

    Returns:
        One row per instance: task_id, instance_id, score (0..1), response (cleaned by
        :func:`acdc_core.answers.clean_output`), submission, error
        (None, or why the instance scored 0 without being judged), tokens, seconds.
        A family whose code fails in the sandbox scores 0 on all its instances, with the error
        logged and stored; the evaluation goes on.
    """
    prompts = build_prompts(tasks, template)
    gens = backend.generate([p for _, _, p in prompts], max_new_tokens, temperature, seed)
    rows: dict[tuple[str, str], dict] = {}
    for (tid, iid, _), g in zip(prompts, gens):
        text = clean_output(g.text)
        rows[(tid, iid)] = {
            "task_id": tid, "instance_id": iid, "score": 0.0, "response": text,
            "submission": submission_for(text), "error": None, "tokens": g.tokens, "seconds": g.seconds,
        }

    def score_family(f: TaskFamily) -> None:
        items = [{"instance_id": iid, "task": inst.task, "submission": rows[(f.task_id, iid)]["submission"]}
                 for iid, inst in f.sorted_instances()]
        try:
            scores, errors = sandbox.score(f.code, items)
        except SandboxError as exc:
            log.warning("task family %s failed in the sandbox: %s", f.name, exc)
            scores, errors = {}, {it["instance_id"]: f"sandbox: {exc}" for it in items}
        for it in items:
            row = rows[(f.task_id, it["instance_id"])]
            row["score"] = float(scores.get(it["instance_id"], 0.0))
            row["error"] = errors.get(it["instance_id"])

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(score_family, tasks.families))
    return [rows[(tid, iid)] for tid, iid, _ in prompts]


def gibberish_check(
    backend: ModelBackend, prompts: list[str], max_new_tokens: int, judge=None, **thresholds: float
) -> tuple[GibberishVerdict, list[str]]:
    """Generate answers to ``prompts`` and judge them: with the heuristic, or with ``judge``
    (an :class:`acdc_core.judge.Judge`) shown the (prompt, response) pairs.  Returns the verdict
    and the responses (kept for the record)."""
    texts = [clean_output(g.text) for g in backend.generate(prompts, max_new_tokens)]
    if judge is not None:
        return judge.gibberish(list(zip(prompts, texts))), texts
    return judge_model(texts, **thresholds), texts
