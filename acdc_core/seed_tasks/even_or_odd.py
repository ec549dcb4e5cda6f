"""Decide whether a number is even."""

import random
import re

METADATA = {
    "name": "even_or_odd",
    "description": "Answer yes or no: is a given two-digit number even?",
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
        rng = random.Random(1403)
        tasks = {}
        for i in range(8):
            n = rng.randint(5, 49) * 2 + (i % 2)  # alternate even / odd
            tasks[str(i)] = {"n": n, "answer": "yes" if n % 2 == 0 else "no"}
        return tasks

    @staticmethod
    def get_instructions(t: dict) -> str:
        return f"Is {t['n']} an even number?"

    @staticmethod
    def score(t: dict, submission: str) -> float:
        return 1.0 if _yes_no(submission) == t["answer"] else 0.0
