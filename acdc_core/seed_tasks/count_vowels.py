"""Count the vowels in a word."""

import random
import re

METADATA = {
    "name": "count_vowels",
    "description": "Count how many vowels (a, e, i, o, u) a word contains.",
    "capability": "strings",
    "domain": "text",
}

_WORDS = ["banana", "tree", "education", "strong", "pencil", "umbrella",
          "cat", "kangaroo", "window", "elephant"]

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
        rng = random.Random(1204)
        words = rng.sample(_WORDS, 8)
        return {
            str(i): {"word": w, "answer": str(sum(ch in "aeiou" for ch in w))}
            for i, w in enumerate(words)
        }

    @staticmethod
    def get_instructions(t: dict) -> str:
        return (f"How many vowels are in the word '{t['word']}'? "
                "The vowels are a, e, i, o and u.")

    @staticmethod
    def score(t: dict, submission: str) -> float:
        return _numeric_score(t["answer"], submission)
