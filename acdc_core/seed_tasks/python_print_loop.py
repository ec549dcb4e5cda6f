"""Predict what a tiny Python program prints."""

import random
import re

METADATA = {
    "name": "python_print_loop",
    "description": "Predict the number printed by a short Python snippet with a loop or assignments.",
    "capability": "code",
    "domain": "programming",
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


def _numbers(text):
    return [int(x) for x in re.findall(r"\d+", text)]


class TaskFamily:
    @staticmethod
    def get_tasks() -> dict[str, dict]:
        rng = random.Random(1502)
        tasks = {}
        i = 0
        while i < 8:
            if i % 2 == 0:
                n, k = rng.randint(2, 5), rng.randint(2, 9)
                code = f"total = 0\nfor i in range({n}):\n    total += {k}\nprint(total)"
                value = n * k
            else:
                a, b = rng.randint(1, 9), rng.randint(1, 9)
                code = f"x = {a}\ny = x + {b}\nprint(y * 2)"
                value = (a + b) * 2
            if value in _numbers(code):  # keep the answer out of the prompt
                continue
            tasks[str(i)] = {"code": code, "answer": str(value)}
            i += 1
        return tasks

    @staticmethod
    def get_instructions(t: dict) -> str:
        return f"What does this Python code print?\n\n{t['code']}"

    @staticmethod
    def score(t: dict, submission: str) -> float:
        return _numeric_score(t["answer"], submission)
