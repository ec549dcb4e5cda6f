"""Sort a short list of numbers in ascending order."""

import random
import re

METADATA = {
    "name": "sort_numbers",
    "description": "Sort five distinct integers from smallest to largest.",
    "capability": "lists",
    "domain": "data",
}


class TaskFamily:
    @staticmethod
    def get_tasks() -> dict[str, dict]:
        rng = random.Random(1304)
        tasks = {}
        i = 0
        while i < 8:
            nums = rng.sample(range(1, 51), 5)
            if nums == sorted(nums):
                continue
            tasks[str(i)] = {
                "numbers": nums,
                "answer": ", ".join(str(x) for x in sorted(nums)),
            }
            i += 1
        return tasks

    @staticmethod
    def get_instructions(t: dict) -> str:
        nums = ", ".join(str(x) for x in t["numbers"])
        return f"Sort these numbers from smallest to largest: {nums}"

    @staticmethod
    def score(t: dict, submission: str) -> float:
        # The last len(list) numbers of the submission must be the sorted list.
        expected = [int(x) for x in re.findall(r"\d+", t["answer"])]
        got = [int(x) for x in re.findall(r"\d+", submission or "")]
        if len(got) < len(expected):
            return 0.0
        return 1.0 if got[-len(expected):] == expected else 0.0
