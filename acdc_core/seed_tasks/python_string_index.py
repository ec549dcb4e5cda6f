"""Predict the character selected by Python string indexing."""

import random
import re

METADATA = {
    "name": "python_string_index",
    "description": "Predict which character a Python snippet prints when it indexes into a string.",
    "capability": "code",
    "domain": "programming",
}

_WORDS = ["python", "garden", "planet", "silver", "rocket", "window", "market",
          "forest", "bridge", "candle"]


def _last_single_letter(text):
    letters = re.findall(r"(?<![A-Za-z])[A-Za-z](?![A-Za-z])", text or "")
    return letters[-1].lower() if letters else None


class TaskFamily:
    @staticmethod
    def get_tasks() -> dict[str, dict]:
        rng = random.Random(1503)
        words = rng.sample(_WORDS, 8)
        tasks = {}
        for i, w in enumerate(words):
            idx = rng.randint(0, len(w) - 1)
            tasks[str(i)] = {"word": w, "index": idx, "answer": w[idx]}
        return tasks

    @staticmethod
    def get_instructions(t: dict) -> str:
        return (f"What does this Python code print?\n\n"
                f"word = '{t['word']}'\nprint(word[{t['index']}])")

    @staticmethod
    def score(t: dict, submission: str) -> float:
        return 1.0 if _last_single_letter(submission) == t["answer"].lower() else 0.0
