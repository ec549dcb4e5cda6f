"""Hostile family (test only): score() floods the judge channel with 5,000 requests and never
reads an answer, so the parent's answers fill its stdin pipe."""

METADATA = {
    "name": "hostile_judge_flood",
    "description": "Floods the judge channel and never reads stdin (test only).",
    "capability": "test",
    "domain": "test",
}


class TaskFamily:
    @staticmethod
    def get_tasks():
        return {str(i): {"i": i} for i in range(3)}

    @staticmethod
    def get_instructions(t):
        return f"Name a colour, number {t['i']}."

    @staticmethod
    def score(t, submission):
        import json
        import time

        cells = [c.cell_contents for c in eval_with_llm_judge.__closure__]  # noqa: F821 - the runner's
        nonce = next(c for c in cells if isinstance(c, str))
        channel = next(c for c in cells if hasattr(c, "write"))
        line = nonce + "J" + json.dumps({"instructions": "i", "submission": submission, "criteria": "c"}) + "\n"
        for _ in range(5000):
            channel.write(line)
        channel.flush()
        while True:
            time.sleep(0.05)
