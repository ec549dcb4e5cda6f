"""Evaluation on a real (pico) transformers model: batching keeps order, bad families score 0."""

import pytest

from acdc_core.backends import load_backend
from acdc_core.evaluation import build_prompts, evaluate
from acdc_core.sandbox import Sandbox, SandboxLimits

ECHO = '''
METADATA = {"name": "echo", "description": "d", "capability": "test", "domain": "test"}
class TaskFamily:
    @staticmethod
    def get_tasks():
        return {"0": {"n": 0}, "1": {"n": 1}}
    @staticmethod
    def get_instructions(t):
        return "count " * (t["n"] + 1)
    @staticmethod
    def score(t, submission):
        return 1.0 if t["n"] == 0 else 0.0
'''
HANGS = ECHO.replace('return 1.0 if t["n"] == 0 else 0.0', "while True:\n            pass")
CRASHES = ECHO.replace('return 1.0 if t["n"] == 0 else 0.0', "raise KeyError('oops')")


def family(task_id: str, code: str) -> dict:
    return {"task_id": task_id, "name": task_id, "code": code,
            "instances": {"0": {"task": {"n": 0}, "instructions": "count"},
                          "1": {"task": {"n": 1}, "instructions": "count count"}}}


@pytest.fixture(scope="module")
def backend(pico_family):
    b = load_backend("hf", str(pico_family["base"]), batch_size=4, torch_threads=1)
    yield b
    b.close()


def test_batched_generation_keeps_input_order(backend):
    prompts = ["a", "bb bb", "ccc ccc ccc", "dddd dddd dddd dddd", "e e e e e e e e e e"]
    out = backend.generate(prompts, max_new_tokens=5)
    rev = backend.generate(prompts[::-1], max_new_tokens=5)
    assert [g.text for g in out] == [g.text for g in rev][::-1]
    assert all(1 <= g.tokens <= 5 and g.seconds > 0 for g in out)


def test_unknown_backend_is_named():
    with pytest.raises(KeyError, match="unknown backend 'vllm-typo'"):
        load_backend("vllm-typo", "/nowhere")


def test_bad_families_score_zero_and_the_rest_goes_on(backend):
    tasks = [family("good", ECHO), family("hangs", HANGS), family("crashes", CRASHES)]
    rows = evaluate(backend, tasks, Sandbox(SandboxLimits(timeout_s=2)), "{instructions}", 4)
    by = {(r["task_id"], r["instance_id"]): r for r in rows}
    assert [(r["task_id"], r["instance_id"]) for r in rows] == [
        (t, i) for t in ("good", "hangs", "crashes") for i in ("0", "1")]
    assert by[("good", "0")]["score"] == 1.0 and by[("good", "0")]["error"] is None
    assert by[("good", "1")]["score"] == 0.0
    assert all(by[("hangs", i)]["score"] == 0.0 and "timed out" in by[("hangs", i)]["error"] for i in "01")
    assert all(by[("crashes", i)]["score"] == 0.0 and "KeyError" in by[("crashes", i)]["error"] for i in "01")


def test_prompts_follow_the_template():
    prompts = build_prompts([family("good", ECHO)], "Q: {instructions}\nA:")
    assert prompts == [("good", "0", "Q: count\nA:"), ("good", "1", "Q: count count\nA:")]
