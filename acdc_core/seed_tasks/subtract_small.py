"""Subtract a single-digit number from a small two-digit number."""

import random
import re

METADATA = {
    "name": "subtract_small",
    "description": "Subtract a single-digit number from a number between 10 and 20.",
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
        rng = random.Random(1102)
        tasks = {}
        i = 0
        while i < 8:
            a = rng.randint(10, 20)
            b = rng.randint(1, 9)
            diff = a - b
            if diff in (a, b):  # keep the answer out of the prompt
                continue
            tasks[str(i)] = {"a": a, "b": b, "answer": str(diff)}
            i += 1
        return tasks

    @staticmethod
    def get_instructions(t: dict) -> str:
        return f"What is {t['a']} - {t['b']}?"

    @staticmethod
    def score(t: dict, submission: str) -> float:
        return _numeric_score(t["answer"], submission)
