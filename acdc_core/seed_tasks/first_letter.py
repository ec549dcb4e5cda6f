"""Name the first letter of a word."""

import random
import re

METADATA = {
    "name": "first_letter",
    "description": "Give the first letter of a given word.",
    "capability": "strings",
    "domain": "text",
}

# No words starting with "a" or "i", which are also ordinary English words.
_WORDS = ["banana", "elephant", "garden", "kitten", "orange", "sunset",
          "tiger", "umbrella", "rabbit", "melon"]


def _last_single_letter(text):
    letters = re.findall(r"(?<![A-Za-z])[A-Za-z](?![A-Za-z])", text or "")
    return letters[-1].lower() if letters else None


class TaskFamily:
    @staticmethod
    def get_tasks() -> dict[str, dict]:
        rng = random.Random(1203)
        words = rng.sample(_WORDS, 8)
        return {str(i): {"word": w, "answer": w[0]} for i, w in enumerate(words)}

    @staticmethod
    def get_instructions(t: dict) -> str:
        return f"What is the first letter of the word '{t['word']}'?"

    @staticmethod
    def score(t: dict, submission: str) -> float:
        return 1.0 if _last_single_letter(submission) == t["answer"].lower() else 0.0
