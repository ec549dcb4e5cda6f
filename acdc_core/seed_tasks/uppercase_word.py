"""Write a word in capital letters."""

import random
import re

METADATA = {
    "name": "uppercase_word",
    "description": "Write a given lowercase word in all capital letters.",
    "capability": "strings",
    "domain": "text",
}

_WORDS = ["apple", "river", "cloud", "happy", "garden", "pencil", "orange",
          "window", "yellow", "planet"]


class TaskFamily:
    @staticmethod
    def get_tasks() -> dict[str, dict]:
        rng = random.Random(1202)
        words = rng.sample(_WORDS, 8)
        return {str(i): {"word": w, "answer": w.upper()} for i, w in enumerate(words)}

    @staticmethod
    def get_instructions(t: dict) -> str:
        return f"Write the word '{t['word']}' in capital letters."

    @staticmethod
    def score(t: dict, submission: str) -> float:
        # Case-sensitive: the all-caps word must appear as a whole word.
        tokens = re.findall(r"[A-Za-z]+", submission or "")
        return 1.0 if t["answer"] in tokens else 0.0
