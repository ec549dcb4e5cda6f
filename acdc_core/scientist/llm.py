"""The LLM scientist: the scientist operations as chat prompts to a large model.

Prompts follow the reference AC/DC scientist: the task-family format with an example, the
parent family's code and pass rate, and the operation; a reflection round adds the previous
attempt and its error; the novelty question shows the nearest known tasks' code.
"""

from __future__ import annotations

from importlib import resources

from acdc_core.scientist.base import TaskRequest
from acdc_core.scientist.replies import fenced

FORMAT = """A task family is one self-contained Python file:
- a literal dict METADATA = {{"name": ..., "description": ..., "capability": ..., "domain": ...}}
  (name: a new snake_case identifier);
- class TaskFamily with static methods:
  get_tasks() -> dict[str, dict]: 3 to 10 task instances (JSON data; build them from a fixed
  random seed or literally; include the expected answer as "answer" when there is one);
  get_instructions(t) -> str: the prompt shown to the model for instance t;
  score(t, submission) -> float: 1.0 if the submission (the model's final answer, or its whole
  reply) solves t, else 0.0. Compute the right answer in code and compare tolerantly. For open-ended
  tasks, score may return eval_with_llm_judge(instructions, submission, criteria) (a global).
- Only the standard library (random, re, math, itertools, string, json, collections, ...).
- No file, network or process access. The models are small: instructions must be short and the
  answer must fit in a few words.
Example:
```python
{example}
```"""

OPERATIONS = {
    "harder": "Write a HARDER version of the parent task: same skill, more steps or larger inputs. "
              "Models solve the parent too often (pass rate {pass_rate:.0%}).",
    "easier": "Write an EASIER version of the parent task: same skill, fewer steps or smaller inputs. "
              "Models rarely solve the parent (pass rate {pass_rate:.0%}).",
    "novel_related": "Write a NEW task that tests a related but different skill than the parent "
                     "(same broad area, new kind of question).",
    "novel_new": "Write a COMPLETELY NEW task on a skill none of the known tasks tests "
                 "(another area than the parent).",
}

SYSTEM = "You are a scientist designing tasks that probe the capabilities of small language models."


def _example() -> str:
    return resources.files("acdc_core.seed_tasks").joinpath("list_sum.py").read_text().strip()


def write_prompt(req: TaskRequest) -> str:
    """The user message asking for the task of ``req``."""
    known = ", ".join(req.known_names[-40:])
    return (
        f"{FORMAT.format(example=_example())}\n\n"
        f"Parent task (pass rate {req.parent.get('pass_rate', 0.0):.0%}):\n{fenced(req.parent['code'])}\n\n"
        f"{OPERATIONS[req.operation].format(pass_rate=req.parent.get('pass_rate', 0.0))}\n"
        f"Do not reuse these names: {known}.\n"
        "Think briefly, then give the whole file in one ```python block."
    )


def reflect_prompt(error: str) -> str:
    """The user message of a self-reflection round, after the assistant's failed attempt."""
    return (
        f"That task family was rejected: {error}\n"
        "Fix the problem (if no model could solve it, make it easier) and give the whole "
        "corrected file in one ```python block."
    )


def novelty_prompt(candidate: str, neighbours: list[str]) -> str:
    """The "interestingly new?" question about ``candidate`` next to its nearest known tasks."""
    shown = "\n\n".join(f"Known task {i + 1}:\n{fenced(code)}" for i, code in enumerate(neighbours))
    return (
        f"{shown}\n\nNew task:\n{fenced(candidate)}\n\n"
        "Is the new task interestingly new compared with the known tasks: does it test something "
        "they do not, rather than restating one of them with other numbers or words? "
        "Answer with one word on the last line: Yes or No."
    )


def parse_yes_no(reply: str) -> bool | None:
    """True/False from the last line's Yes/No; None when the reply gives neither."""
    lines = [line.strip().strip("*.!").lower() for line in reply.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    for word, value in (("yes", True), ("no", False)):
        if last == word or last.endswith(f" {word}") or last.endswith(f":{word}"):
            return value
    return None


class LLMScientist:
    """A :class:`~acdc_core.scientist.base.Scientist` over a chat client
    (:mod:`acdc_core.adapters.chat`); ``ChatError`` propagates when the endpoint fails."""

    def __init__(self, chat):
        self.chat = chat

    def _system(self) -> dict:
        return {"role": "system", "content": SYSTEM}

    def write(self, requests: list[TaskRequest]) -> list[str]:
        return self.chat.complete([[self._system(), {"role": "user", "content": write_prompt(r)}] for r in requests])

    def reflect(self, requests: list[TaskRequest], attempts: list[str], errors: list[str]) -> list[str]:
        return self.chat.complete([
            [self._system(), {"role": "user", "content": write_prompt(r)},
             {"role": "assistant", "content": a}, {"role": "user", "content": reflect_prompt(e)}]
            for r, a, e in zip(requests, attempts, errors)
        ])

    def is_interesting(self, candidates: list[str], neighbours: list[list[str]]) -> list[bool | None]:
        replies = self.chat.complete([
            [self._system(), {"role": "user", "content": novelty_prompt(c, n)}]
            for c, n in zip(candidates, neighbours)
        ])
        return [parse_yes_no(r) for r in replies]
