"""Name the capital city of a well-known country."""

import re

METADATA = {
    "name": "capital_city",
    "description": "Name the capital city of a well-known country.",
    "capability": "knowledge",
    "domain": "world",
}

_CAPITALS = [
    ("France", "Paris"),
    ("Japan", "Tokyo"),
    ("Italy", "Rome"),
    ("Germany", "Berlin"),
    ("Spain", "Madrid"),
    ("England", "London"),
    ("Russia", "Moscow"),
    ("Egypt", "Cairo"),
]


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
        all_caps = [c.lower() for _, c in _CAPITALS]
        tasks = {}
        for i, (country, capital) in enumerate(_CAPITALS):
            tasks[str(i)] = {
                "country": country,
                "answer": capital,
                "accept": [capital.lower()],
                "reject": [c for c in all_caps if c != capital.lower()],
            }
        return tasks

    @staticmethod
    def get_instructions(t: dict) -> str:
        return f"What is the capital city of {t['country']}?"

    @staticmethod
    def score(t: dict, submission: str) -> float:
        return _choice_score(t, submission)
