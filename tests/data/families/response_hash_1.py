"""Plumbing family for pico models: passes by a hash of the response, so random models differ."""

METADATA = {
    "name": "response_hash_1",
    "description": "Deterministic pseudo-skill of the raw response (test only).",
    "capability": "test",
    "domain": "test",
}


class TaskFamily:
    @staticmethod
    def get_tasks():
        return {str(i): {"i": i, "answer": ""} for i in range(4)}

    @staticmethod
    def get_instructions(t):
        return f"Say something about the number {t['i'] * 7 + 1}."

    @staticmethod
    def score(t, submission):
        return float((sum(map(ord, submission)) + 1 + t["i"]) % 3 == 0)
