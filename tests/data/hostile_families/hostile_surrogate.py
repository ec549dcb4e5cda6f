"""Hostile family (test only): text no database can store, a lone surrogate, in its
instructions, its task data (a key and a value) and its score() errors."""

METADATA = {
    "name": "hostile_surrogate",
    "description": "Lone surrogates in instructions, task data and errors (test only).",
    "capability": "test",
    "domain": "test",
}


class TaskFamily:
    @staticmethod
    def get_tasks():
        return {str(i): {"i": i, "s\udcff": "v\udcfe"} for i in range(3)}

    @staticmethod
    def get_instructions(t):
        return chr(0xDCFF)

    @staticmethod
    def score(t, submission):
        raise ValueError(chr(0xDCFF))
