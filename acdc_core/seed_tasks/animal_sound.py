"""Name the sound a common animal makes."""

import re

METADATA = {
    "name": "animal_sound",
    "description": "Name the sound that a common animal makes.",
    "capability": "knowledge",
    "domain": "world",
}

# (animal, main answer, other accepted answers)
_SOUNDS = [
    ("cow", "moo", ["moos"]),
    ("dog", "woof", ["bark", "barks", "arf"]),
    ("cat", "meow", ["miaow", "meows", "mew"]),
    ("duck", "quack", ["quacks"]),
    ("sheep", "baa", ["baaa", "bleat", "bleats"]),
    ("lion", "roar", ["roars"]),
    ("pig", "oink", ["oinks"]),
    ("snake", "hiss", ["hisses"]),
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
        for i, (animal, ans, alts) in enumerate(_SOUNDS):
            accept = [ans] + alts
            reject = [w for _, a, al in _SOUNDS for w in [a] + al if w not in accept]
            tasks[str(i)] = {"animal": animal, "answer": ans, "accept": accept, "reject": reject}
        return tasks

    @staticmethod
    def get_instructions(t: dict) -> str:
        return f"What sound does a {t['animal']} make?"

    @staticmethod
    def score(t: dict, submission: str) -> float:
        return _choice_score(t, submission)
