"""Count how often a word occurs in a list."""

import random
import re

METADATA = {
    "name": "count_occurrences",
    "description": "Count how many times a given word appears in a short list of words.",
    "capability": "lists",
    "domain": "data",
}

_ANIMALS = ["cat", "dog", "fish", "bird", "cow", "horse"]

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
        rng = random.Random(1303)
        tasks = {}
        for i in range(8):
            target = rng.choice(_ANIMALS)
            count = rng.randint(1, 4)
            others = [a for a in _ANIMALS if a != target]
            items = [target] * count + [rng.choice(others) for _ in range(rng.randint(2, 4))]
            rng.shuffle(items)
            tasks[str(i)] = {"target": target, "items": items, "answer": str(count)}
        return tasks

    @staticmethod
    def get_instructions(t: dict) -> str:
        return (f"How many times does the word '{t['target']}' appear in this list: "
                f"{', '.join(t['items'])}?")

    @staticmethod
    def score(t: dict, submission: str) -> float:
        return _numeric_score(t["answer"], submission)
