"""Checking a scientist's task family before any model sees it.

A family is accepted when its code parses with a literal METADATA, does not duplicate a known
family, calls ``eval_with_llm_judge`` only when a judge is configured, loads in the sandbox with
at least ``min_instances`` instances with non-empty instructions, gives no credit to an empty
answer, and -- where instances carry an ``"answer"`` -- credits that answer.  Each failure is a
:class:`TaskFamilyError` whose message is what the scientist sees in its reflection round.
"""

from __future__ import annotations

import ast

from acdc_core.sandboxing import SandboxError, TaskCodeRunner
from acdc_core.taskfamily import TaskFamily, TaskFamilyError, family_from_code
from acdc_core.text import clean_text

JUDGE_HELPER = "eval_with_llm_judge"


def calls_judge(code: str) -> bool:
    """Whether parsed ``code`` refers to ``eval_with_llm_judge`` anywhere."""
    return any(isinstance(n, ast.Name) and n.id == JUDGE_HELPER for n in ast.walk(ast.parse(code)))


def validate_family(code: str, sandbox: TaskCodeRunner, *, origin: str, parent_id: str | None,
                    known_ids: set[str], known_names: set[str], max_instances: int,
                    min_instances: int, judge_available: bool) -> TaskFamily:
    """Run every check on ``code``.

    Returns:
        The accepted family with its instances loaded (at most ``max_instances``); its code,
        metadata and instances hold only clean strings (:func:`acdc_core.text.clean_text`).

    Raises:
        TaskFamilyError: naming the first check that failed; no other exception escapes for
            anything the code or its sandbox calls return.
    """
    family = family_from_code(clean_text(code), origin=origin, parent_id=parent_id)
    code = family.code
    if family.task_id in known_ids:
        raise TaskFamilyError("this exact task family already exists")
    if family.name in known_names:
        raise TaskFamilyError(f"the name {family.name!r} is taken; choose a new name")
    if calls_judge(code) and not judge_available:
        raise TaskFamilyError(f"score() calls {JUDGE_HELPER} but this run has no LLM judge configured")
    try:
        instances = sandbox.instances(code, max_instances)
    except SandboxError as exc:
        raise TaskFamilyError(f"loading the family in the sandbox failed: {exc}") from None
    if len(instances) < min_instances:
        raise TaskFamilyError(f"get_tasks() returned {len(instances)} instances; at least {min_instances} needed")
    empty = [iid for iid, inst in instances.items() if not inst["instructions"].strip()]
    if empty:
        raise TaskFamilyError(f"get_instructions() is empty for instances {empty[:3]}")
    items = [{"instance_id": f"{iid}\x00empty", "task": inst["task"], "submission": ""} for iid, inst in instances.items()]
    items += [{"instance_id": f"{iid}\x00answer", "task": inst["task"], "submission": str(inst["task"]["answer"])}
              for iid, inst in instances.items() if isinstance(inst["task"], dict) and "answer" in inst["task"]]
    try:
        scores, errors = sandbox.score(code, items)
    except SandboxError as exc:
        raise TaskFamilyError(f"score() could not run in the sandbox: {exc}") from None
    if errors:
        key, msg = sorted(errors.items())[0]
        raise TaskFamilyError(f"score() crashed on instance {key.split(chr(0))[0]!r}: {msg}")
    if any(v > 0 for k, v in scores.items() if k.endswith("\x00empty")):
        raise TaskFamilyError("score() gives credit to an empty answer")
    wrong = sorted(k.split("\x00")[0] for k, v in scores.items() if k.endswith("\x00answer") and v < 1.0)
    if wrong:
        raise TaskFamilyError(f"score() rejects the instance's own 'answer' for instances {wrong[:3]}")
    return family.with_instances(instances)
