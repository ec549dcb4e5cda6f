"""Evaluate a short Python expression built around len()."""

import random
import re

METADATA = {
    "name": "python_len_expr",
    "description": "Evaluate a one-line Python expression that uses len() on a string.",
    "capability": "code",
    "domain": "programming",
}

_WORDS = ["hello", "cat", "python", "sun", "banana", "tree", "moon", "garden"]

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


def _numbers(text):
    return [int(x) for x in re.findall(r"\d+", text)]


class TaskFamily:
    @staticmethod
    def get_tasks() -> dict[str, dict]:
        rng = random.Random(1501)
        tasks = {}
        i = 0
        while i < 8:
            kind = i % 3
            w = rng.choice(_WORDS)
            if kind == 0:
                k = rng.randint(1, 9)
                expr, value = f"len('{w}') + {k}", len(w) + k
            elif kind == 1:
                k = rng.randint(2, 4)
                expr, value = f"len('{w}') * {k}", len(w) * k
            else:
                w2 = rng.choice(_WORDS)
                expr, value = f"len('{w}' + '{w2}')", len(w + w2)
            if value in _numbers(expr):  # keep the answer out of the prompt
                continue
            tasks[str(i)] = {"expression": expr, "answer": str(value)}
            i += 1
        return tasks

    @staticmethod
    def get_instructions(t: dict) -> str:
        return f"What does this Python expression evaluate to?\n\n{t['expression']}"

    @staticmethod
    def score(t: dict, submission: str) -> float:
        return _numeric_score(t["answer"], submission)
