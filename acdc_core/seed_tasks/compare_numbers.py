"""Decide whether one number is greater than another."""

import random
import re

METADATA = {
    "name": "compare_numbers",
    "description": "Answer yes or no: is the first two-digit number greater than the second?",
    "capability": "logic",
    "domain": "math",
}


def _yes_no(text):
    words = set(re.findall(r"[a-z]+", (text or "").lower()))
    has_yes, has_no = "yes" in words, "no" in words
    if has_yes == has_no:  # neither, or both (ambiguous)
        return None
    return "yes" if has_yes else "no"


class TaskFamily:
    @staticmethod
    def get_tasks() -> dict[str, dict]:
        rng = random.Random(1402)
        tasks = {}
        for i in range(8):
            a, b = rng.sample(range(10, 100), 2)
            if (a > b) != (i % 2 == 0):  # balance yes and no answers
                a, b = b, a
            tasks[str(i)] = {"a": a, "b": b, "answer": "yes" if a > b else "no"}
        return tasks

    @staticmethod
    def get_instructions(t: dict) -> str:
        return f"Is {t['a']} greater than {t['b']}?"

    @staticmethod
    def score(t: dict, submission: str) -> float:
        return 1.0 if _yes_no(submission) == t["answer"] else 0.0
