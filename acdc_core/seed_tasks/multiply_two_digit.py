"""Multiply two two-digit integers."""

import random
import re

METADATA = {
    "name": "multiply_two_digit",
    "description": "Multiply two two-digit integers.",
    "capability": "arithmetic",
    "domain": "math",
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
        rng = random.Random(1103)
        tasks = {}
        for i in range(8):
            a = rng.randint(11, 99)
            b = rng.randint(11, 99)
            tasks[str(i)] = {"a": a, "b": b, "answer": str(a * b)}
        return tasks

    @staticmethod
    def get_instructions(t: dict) -> str:
        return f"What is {t['a']} * {t['b']}?"

    @staticmethod
    def score(t: dict, submission: str) -> float:
        return _numeric_score(t["answer"], submission)
