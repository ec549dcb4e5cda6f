"""Reverse the letters of a word."""

import random
import re

METADATA = {
    "name": "reverse_word",
    "description": "Write a given word with its letters in reverse order.",
    "capability": "strings",
    "domain": "text",
}

_WORDS = ["house", "plant", "water", "table", "green", "mouse", "river",
          "candle", "garden", "pencil", "bottle", "school"]


def _tokens(text):
    return re.findall(r"[a-z]+", (text or "").lower())


class TaskFamily:
    @staticmethod
    def get_tasks() -> dict[str, dict]:
        rng = random.Random(1201)
        words = rng.sample(_WORDS, 8)
        return {str(i): {"word": w, "answer": w[::-1]} for i, w in enumerate(words)}

    @staticmethod
    def get_instructions(t: dict) -> str:
        return f"Reverse the letters of the word '{t['word']}'. Write the reversed word."

    @staticmethod
    def score(t: dict, submission: str) -> float:
        return 1.0 if t["answer"].lower() in _tokens(submission) else 0.0
