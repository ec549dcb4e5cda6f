"""Evaluation on a real (pico) transformers model: batching keeps order, bad families score 0."""

import pytest
import torch

from acdc_core.adapters.backends import load_backend
from acdc_core.adapters.backends.dtype import resolve_dtype
from acdc_core.adapters.backends.hf import HFBackend, format_prompt
from acdc_core.adapters.evaluation import build_prompts, evaluate
from acdc_core.adapters.sandbox import Sandbox, SandboxLimits
from acdc_core.adapters.weights import load_weights
from acdc_core.taskfamily import TaskFamily, TaskSet

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


def family(task_id: str, code: str) -> TaskFamily:
    return TaskFamily(task_id=task_id, name=task_id, code=code, description="", capability="", domain="").with_instances(
        {"1": {"task": {"n": 1}, "instructions": "count count"}, "0": {"task": {"n": 0}, "instructions": "count"}})


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


def test_auto_dtype_is_bf16_where_the_cpu_has_native_bf16_dot_products(pico_family, monkeypatch):
    assert resolve_dtype("float16", "cpu") == "float16" and resolve_dtype("float32", "cuda") == "float32"
    for caps, want in (({"avx512_bf16": True}, "bfloat16"), ({"amx_bf16": True}, "bfloat16"),
                       ({"avx512_bf16": False, "avx2": True}, "float32")):
        monkeypatch.setattr(torch.cpu, "get_capabilities", lambda caps=caps: caps)
        assert resolve_dtype("auto", "cpu") == want
    monkeypatch.undo()
    b = HFBackend(str(pico_family["base"]), batch_size=4, torch_threads=1, dtype="auto")
    assert b.dtype == resolve_dtype("auto", "cpu") and next(b.model.parameters()).dtype == getattr(torch, b.dtype)
    assert all(g.text is not None for g in b.generate(["What is 12 + 30?"], 4))


def test_greedy_decoding_drops_finished_rows_and_matches_transformers_generate(pico_family):
    """Rows leave the batch when they stop; what each row says is what ``model.generate`` says."""
    b = HFBackend(str(pico_family["base"]), batch_size=8, torch_threads=1)
    prompts = ["a", "What is 12 + 30?", "Sort 3 1 2", "yes no true false yes", "The capital of France is",
               "Reverse the word cat", "abc " * 6, "0 1 2 3"]
    texts = [format_prompt(b.tokenizer, p, b.use_chat_template)[0] for p in prompts]
    enc = b.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.inference_mode():
        free = b.model.generate(**enc, max_new_tokens=12, do_sample=False, pad_token_id=b.tokenizer.pad_token_id,
                                eos_token_id=[])[:, enc["input_ids"].shape[1]:]
    # stop on the token the rows say most often, so they finish at different steps
    stop = int(torch.mode(free[:, 1:].flatten()).values)
    b.model.generation_config.eos_token_id = stop
    with torch.inference_mode():
        ref = b.model.generate(**enc, max_new_tokens=12, do_sample=False, pad_token_id=b.tokenizer.pad_token_id,
                               eos_token_id=stop)[:, enc["input_ids"].shape[1]:]
    ours = b.generate(prompts, 12)
    lengths = []
    for row, g in zip(ref.tolist(), ours):
        n = row.index(stop) + 1 if stop in row else len(row)
        lengths.append(n)
        assert g.tokens == n and g.text == b.tokenizer.decode(row[:n], skip_special_tokens=True)
    assert len(set(lengths)) > 1 and min(lengths) < 12  # some rows did finish early
    b.close()


def test_swapped_weights_answer_as_a_fresh_load_of_that_model(pico_family):
    """A candidate's weights swapped into a loaded model (the run's candidate session): the
    model then answers exactly as that model loaded from its own folder; weights that do not fit
    are refused before any is copied."""
    prompts = ["What is 12 + 30?", "Sort 3 1 2", "The capital of France is"]
    fresh = HFBackend(str(pico_family["expert_a"]), batch_size=4, torch_threads=1)
    want = [g.text for g in fresh.generate(prompts, 10)]
    fresh.close()
    b = HFBackend(str(pico_family["base"]), batch_size=4, torch_threads=1)
    before = [g.text for g in b.generate(prompts, 10)]
    b.load_weights(load_weights(pico_family["expert_a"]))  # float32 folder; bf16 would be cast
    assert [g.text for g in b.generate(prompts, 10)] == want != before
    w = load_weights(pico_family["base"])
    with pytest.raises(ValueError, match="unknown"):
        b.load_weights({**w, "extra.weight": torch.zeros(1)})
    with pytest.raises(ValueError, match="missing"):
        b.load_weights({k: v for k, v in w.items() if "layers.0.mlp" not in k})
    name = next(k for k in w if k.endswith("q_proj.weight"))
    with pytest.raises(ValueError, match="shape"):
        b.load_weights({**w, name: w[name][:-1]})
    assert [g.text for g in b.generate(prompts, 10)] == want  # still expert_a, whole
    b.close()


def test_unknown_backend_is_named():
    with pytest.raises(KeyError, match="unknown backend 'vllm-typo'"):
        load_backend("vllm-typo", "/nowhere")


def test_bad_families_score_zero_and_the_rest_goes_on(backend):
    tasks = TaskSet(families=(family("good", ECHO), family("hangs", HANGS), family("crashes", CRASHES)))
    rows = evaluate(backend, tasks, Sandbox(SandboxLimits(timeout_s=2)), "{instructions}", 4)
    by = {(r["task_id"], r["instance_id"]): r for r in rows}
    assert [(r["task_id"], r["instance_id"]) for r in rows] == [
        (t, i) for t in ("good", "hangs", "crashes") for i in ("0", "1")]
    assert by[("good", "0")]["score"] == 1.0 and by[("good", "0")]["error"] is None
    assert by[("good", "1")]["score"] == 0.0
    assert all(by[("hangs", i)]["score"] == 0.0 and "timed out" in by[("hangs", i)]["error"] for i in "01")
    assert all(by[("crashes", i)]["score"] == 0.0 and "KeyError" in by[("crashes", i)]["error"] for i in "01")


def test_prompts_follow_the_template():
    prompts = build_prompts(TaskSet(families=(family("good", ECHO),)), "Q: {instructions}\nA:")
    assert prompts == [("good", "0", "Q: count\nA:"), ("good", "1", "Q: count count\nA:")]
