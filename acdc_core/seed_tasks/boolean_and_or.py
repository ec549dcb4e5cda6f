"""Evaluate a boolean AND / OR of two statements."""

import itertools
import random
import re

METADATA = {
    "name": "boolean_and_or",
    "description": "Decide whether 'P and Q' or 'P or Q' is true, given the truth of P and Q.",
    "capability": "logic",
    "domain": "reasoning",
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
        combos = list(itertools.product([True, False], [True, False], ["and", "or"]))
        random.Random(1401).shuffle(combos)
        tasks = {}
        for i, (p, q, op) in enumerate(combos):
            value = (p and q) if op == "and" else (p or q)
            tasks[str(i)] = {"p": p, "q": q, "op": op, "answer": "yes" if value else "no"}
        return tasks

    @staticmethod
    def get_instructions(t: dict) -> str:
        p = "true" if t["p"] else "false"
        q = "true" if t["q"] else "false"
        return f"P is {p}. Q is {q}. Is the statement 'P {t['op']} Q' true?"

    @staticmethod
    def score(t: dict, submission: str) -> float:
        return 1.0 if _yes_no(submission) == t["answer"] else 0.0
