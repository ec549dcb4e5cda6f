"""Give the opposite of a simple word."""

import re

METADATA = {
    "name": "antonym",
    "description": "Give the opposite (antonym) of a simple everyday word.",
    "capability": "knowledge",
    "domain": "text",
}

# (word, main answer, other accepted answers)
_PAIRS = [
    ("hot", "cold", []),
    ("big", "small", ["little", "tiny"]),
    ("up", "down", []),
    ("fast", "slow", []),
    ("happy", "sad", ["unhappy"]),
    ("day", "night", []),
    ("open", "closed", ["shut", "close"]),
    ("wet", "dry", []),
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
        tasks = {}
        for i, (word, ans, alts) in enumerate(_PAIRS):
            accept = [ans] + alts
            reject = [w for _, a, al in _PAIRS for w in [a] + al if w not in accept]
            tasks[str(i)] = {"word": word, "answer": ans, "accept": accept, "reject": reject}
        return tasks

    @staticmethod
    def get_instructions(t: dict) -> str:
        return f"What is the opposite of the word '{t['word']}'?"

    @staticmethod
    def score(t: dict, submission: str) -> float:
        return _choice_score(t, submission)
