"""Add up a short list of numbers."""

import random
import re

METADATA = {
    "name": "list_sum",
    "description": "Give the sum of a short list of small positive integers.",
    "capability": "lists",
    "domain": "data",
}

_NUM_RE = re.compile(r"-?\d+(?:\.\d+)?")


def _last_number(text):
    text = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", text or "")
    nums = _NUM_RE.findall(text)
    return nums[-1] if nums else None


def _numeric_score(answer, submission):
    last = _last_number(submission)
    if last is None:
        return 0.0
    try:
        return 1.0 if float(last) == float(answer) else 0.0
    except ValueError:
        return 0.0


class TaskFamily:
    @staticmethod
    def get_tasks() -> dict[str, dict]:
        rng = random.Random(1302)
        tasks = {}
        for i in range(8):
            n = rng.randint(3, 4)
            nums = [rng.randint(1, 20) for _ in range(n)]
            tasks[str(i)] = {"numbers": nums, "answer": str(sum(nums))}
        return tasks

    @staticmethod
    def get_instructions(t: dict) -> str:
        nums = ", ".join(str(x) for x in t["numbers"])
        return f"What is the sum of these numbers: {nums}?"

    @staticmethod
    def score(t: dict, submission: str) -> float:
        return _numeric_score(t["answer"], submission)
