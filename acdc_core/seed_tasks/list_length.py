"""Count the items in a short list of words."""

import random
import re

METADATA = {
    "name": "list_length",
    "description": "Count how many items a short comma-separated list of words has.",
    "capability": "lists",
    "domain": "data",
}

_ITEMS = ["apple", "pear", "fig", "plum", "grape", "lemon", "mango", "peach",
          "cherry", "kiwi"]

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
        rng = random.Random(1301)
        tasks = {}
        for i in range(8):
            n = rng.randint(3, 7)
            items = rng.sample(_ITEMS, n)
            tasks[str(i)] = {"items": items, "answer": str(n)}
        return tasks

    @staticmethod
    def get_instructions(t: dict) -> str:
        return f"How many items are in this list: {', '.join(t['items'])}?"

    @staticmethod
    def score(t: dict, submission: str) -> float:
        return _numeric_score(t["answer"], submission)
