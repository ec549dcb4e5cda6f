"""Name the usual colour of a common thing."""

import re

METADATA = {
    "name": "colour_of_thing",
    "description": "Name the usual colour of a common everyday thing.",
    "capability": "knowledge",
    "domain": "world",
}

_THINGS = [
    ("grass", "green"),
    ("the sky on a clear sunny day", "blue"),
    ("fresh snow", "white"),
    ("a ripe banana", "yellow"),
    ("coal", "black"),
    ("blood", "red"),
    ("a carrot", "orange"),
    ("chocolate", "brown"),
]

_COLOURS = ["green", "blue", "white", "yellow", "black", "red", "orange", "brown",
            "pink", "purple", "grey", "gray"]


def _words(text):
    return set(re.findall(r"[a-z]+", (text or "").lower()))


def _choice_score(t, submission):
    """Pass if an accepted word appears and no competing option appears."""
    words = _words(submission)
    if not words & set(t["accept"]):
        return 0.0
    if words & set(t["reject"]):
        return 0.0
    return 1.0


class TaskFamily:
    @staticmethod
    def get_tasks() -> dict[str, dict]:
        tasks = {}
        for i, (thing, colour) in enumerate(_THINGS):
            tasks[str(i)] = {
                "thing": thing,
                "answer": colour,
                "accept": [colour],
                "reject": [c for c in _COLOURS if c != colour],
            }
        return tasks

    @staticmethod
    def get_instructions(t: dict) -> str:
        return f"What colour is {t['thing']}?"

    @staticmethod
    def score(t: dict, submission: str) -> float:
        return _choice_score(t, submission)
