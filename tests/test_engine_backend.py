"""The engine-process backend (how ``vllm`` runs): the worker protocol driven end to end with the
transformers engine in a real subprocess, its weight swap in place, and the errors a user meets
when the engine environment, vLLM or the GPU is missing.  The vLLM engine itself runs only where
``ACDC_ENGINE_PYTHON`` (or ``.venv-vllm``) has vLLM and a GPU is visible; elsewhere that test is
skipped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from acdc_core.adapters.backends import load_backend
from acdc_core.adapters.backends.engine_client import DEFAULT_PYTHON, EngineBackend, EngineError
from acdc_core.adapters.backends.hf import HFBackend
from acdc_core.adapters.weights import load_weights

PROMPTS = ["What is 12 + 30?", "Reverse the word cat.", "Sort 3 1 2.", "The capital of France is"]
OPTIONS = {"device": "cpu", "batch_size": 3, "torch_threads": 1, "dtype": "float32"}


def _answers(gens) -> list[tuple[str, int]]:
    return [(g.text, g.tokens) for g in gens]


@pytest.fixture
def engine(pico_family):
    backend = EngineBackend(str(pico_family["base"]), engine="hf", python=sys.executable, **OPTIONS)
    yield backend
    backend.close()


def test_engine_process_answers_as_the_in_process_backend_and_swaps_in_place(engine, pico_family):
    local = HFBackend(str(pico_family["base"]), **OPTIONS)
    assert engine.pid != os.getpid() and engine.nbytes == local.nbytes
    before = engine.generate(PROMPTS, 12)
    assert _answers(before) == _answers(local.generate(PROMPTS, 12))
    expert = load_weights(pico_family["expert_a"])
    engine.load_weights(expert)
    local.load_weights(expert)
    after = engine.generate(PROMPTS, 12)
    assert _answers(after) == _answers(local.generate(PROMPTS, 12))
    assert _answers(after) != _answers(before)  # the swap took: another model answers
    assert all(g.tokens > 0 for g in after)
    assert not [p for p in os.listdir("/dev/shm") if p.startswith("acdc-engine-weights-")]


def test_misfit_weights_are_refused_and_the_engine_goes_on(engine, pico_family):
    weights = load_weights(pico_family["base"])
    weights["model.extra.weight"] = next(iter(weights.values())).clone()
    with pytest.raises(EngineError, match="weights do not fit"):
        engine.load_weights(weights)
    assert len(engine.generate(PROMPTS[:1], 4)) == 1


def test_a_dead_engine_is_reported_not_waited_for(engine):
    os.kill(engine.pid, signal.SIGKILL)
    with pytest.raises(EngineError, match="engine process exited"):
        engine.generate(PROMPTS, 4)


def test_missing_environment_vllm_or_gpu_is_named(pico_family, tmp_path):
    with pytest.raises(EngineError, match="scripts/setup-vllm.sh"):
        load_backend("vllm", str(pico_family["base"]), engine_python=str(tmp_path / "no-such-python"))
    has_vllm = subprocess.run([sys.executable, "-c", "import vllm"], capture_output=True).returncode == 0
    if has_vllm:
        pytest.skip("vllm is installed in this environment")
    with pytest.raises(EngineError, match="vllm is not installed in .*setup-vllm.sh"):
        load_backend("vllm", str(pico_family["base"]), engine_python=sys.executable)


def _engine_python() -> str | None:
    python = os.environ.get("ACDC_ENGINE_PYTHON") or str(DEFAULT_PYTHON)
    if not os.path.exists(python):
        return None
    probe = "import vllm, torch; assert torch.cuda.is_available()"
    return python if subprocess.run([python, "-c", probe], capture_output=True).returncode == 0 else None


@pytest.mark.slow
@pytest.mark.skipif(_engine_python() is None, reason="no engine environment with vLLM and a CUDA GPU")
def test_vllm_engine_agrees_with_hf_and_swaps_in_place(pico_family):
    vllm = load_backend("vllm", str(pico_family["base"]), engine_python=_engine_python(), dtype="float32")
    try:
        local = HFBackend(str(pico_family["base"]), device="cuda", dtype="float32")
        expert = load_weights(pico_family["expert_a"])
        for weights in (None, expert):
            if weights is not None:
                vllm.load_weights(weights)
                local.load_weights(weights)
            ours, theirs = _answers(vllm.generate(PROMPTS, 12)), _answers(local.generate(PROMPTS, 12))
            agree = sum(a == b for a, b in zip(ours, theirs)) / len(PROMPTS)
            assert agree >= 0.75, agree
    finally:
        vllm.close()
