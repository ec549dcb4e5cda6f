"""Evaluating one model on a task set: batched generation, then sandboxed scoring.

``tasks`` everywhere is the list returned by ``RunDB.active_tasks()``:
``[{"task_id", "name", "code", "instances": {instance_id: {"task", "instructions"}}}]``.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from acdc_core.adapters.backends import ModelBackend
from acdc_core.adapters.sandbox import Sandbox, SandboxError
from acdc_core.answers import clean_output, submission_for
from acdc_core.gibberish import GibberishVerdict, judge_model

log = logging.getLogger(__name__)


def build_prompts(tasks: list[dict], template: str) -> list[tuple[str, str, str]]:
    """(task_id, instance_id, prompt) for every instance, in task then instance order."""
    return [
        (t["task_id"], iid, template.format(instructions=inst["instructions"]))
        for t in tasks
        for iid, inst in sorted(t["instances"].items())
    ]


def evaluate(
    backend: ModelBackend, tasks: list[dict], sandbox: Sandbox, template: str, max_new_tokens: int
) -> list[dict]:
    """Answer every instance in one batched call, then score each family in the sandbox.

    Returns:
        One row per instance: task_id, instance_id, score (0..1), response (cleaned by
        :func:`acdc_core.answers.clean_output`), submission, error
        (None, or why the instance scored 0 without being judged), tokens, seconds.
        A family whose code fails in the sandbox scores 0 on all its instances, with the error
        logged and stored; the evaluation goes on.
    """
    prompts = build_prompts(tasks, template)
    gens = backend.generate([p for _, _, p in prompts], max_new_tokens)
    rows: dict[tuple[str, str], dict] = {}
    for (tid, iid, _), g in zip(prompts, gens):
        text = clean_output(g.text)
        rows[(tid, iid)] = {
            "task_id": tid, "instance_id": iid, "score": 0.0, "response": text,
            "submission": submission_for(text), "error": None, "tokens": g.tokens, "seconds": g.seconds,
        }

    def score_family(t: dict) -> None:
        items = [
            {"instance_id": iid, "task": inst["task"], "submission": rows[(t["task_id"], iid)]["submission"]}
            for iid, inst in sorted(t["instances"].items())
        ]
        try:
            scores, errors = sandbox.score(t["code"], items)
        except SandboxError as exc:
            log.warning("task family %s failed in the sandbox: %s", t["name"], exc)
            scores, errors = {}, {it["instance_id"]: f"sandbox: {exc}" for it in items}
        for it in items:
            row = rows[(t["task_id"], it["instance_id"])]
            row["score"] = float(scores.get(it["instance_id"], 0.0))
            row["error"] = errors.get(it["instance_id"])

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(score_family, tasks))
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
