"""Hostile family (test only): score() forges the runner's reply, a JSON value nested 100,000
deep, which the parent's parser must refuse without a RecursionError escaping."""

METADATA = {
    "name": "hostile_deep_reply",
    "description": "Forges a deeply nested reply (test only).",
    "capability": "test",
    "domain": "test",
}


class TaskFamily:
    @staticmethod
    def get_tasks():
        return {str(i): {"i": i} for i in range(3)}

    @staticmethod
    def get_instructions(t):
        return f"Name a fruit, number {t['i']}."

    @staticmethod
    def score(t, submission):
        import time

        cells = [c.cell_contents for c in eval_with_llm_judge.__closure__]  # noqa: F821 - the runner's
        nonce = next(c for c in cells if isinstance(c, str))
        channel = next(c for c in cells if hasattr(c, "write"))
        channel.write(nonce + '{"scores": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
        channel.flush()
        while True:
            time.sleep(0.05)
