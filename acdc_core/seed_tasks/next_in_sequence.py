"""Give the next number of an arithmetic sequence."""

import random
import re

METADATA = {
    "name": "next_in_sequence",
    "description": "Give the next number in a short increasing arithmetic sequence.",
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
        rng = random.Random(1104)
        tasks = {}
        for i in range(8):
            start = rng.randint(1, 20)
            step = rng.randint(2, 9)
            seq = [start + k * step for k in range(4)]
            tasks[str(i)] = {"sequence": seq, "answer": str(start + 4 * step)}
        return tasks

    @staticmethod
    def get_instructions(t: dict) -> str:
        seq = ", ".join(str(x) for x in t["sequence"])
        return f"What number comes next in the sequence: {seq}, ...?"

    @staticmethod
    def score(t: dict, submission: str) -> float:
        return _numeric_score(t["answer"], submission)
