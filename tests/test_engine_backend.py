"""The engine-process backend (how ``vllm`` runs): the worker protocol driven end to end with the
transformers engine in a real subprocess, its weight swap in place, and the errors a user meets
when the engine environment or vLLM is missing; the vLLM engine's own code against a stand-in
``vllm`` package (fast, everywhere); and the real vLLM engine on the CPU (vLLM's CPU build, made by
``scripts/setup-vllm.sh --cpu``): agreement with ``hf``, swaps that change the tied embeddings, the
stored models of a run under ``evaluation.backend: vllm``, and an engine that dies.

The real-engine tests run where ``ACDC_ENGINE_PYTHON`` (or ``.venv-vllm``) imports vLLM; elsewhere
they are skipped, unless ``ACDC_REQUIRE_ENGINE`` is set (``scripts/test.sh``, CI), where a missing or
broken engine environment fails them."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch
from helpers.pico import ENGINE_SHAPE, build_pico, build_tokenizer

from acdc_core.adapters.backends import load_backend
from acdc_core.adapters.backends.engine_client import DEFAULT_PYTHON, EngineBackend, EngineError
from acdc_core.adapters.backends.engine_worker import checkpoint_nbytes
from acdc_core.adapters.backends.hf import HFBackend
from acdc_core.adapters.backends.vllm_extension import EngineWorkerExtension, retie_output_layer
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
    with pytest.raises(EngineError, match="vllm is not installed in .*setup-vllm.sh.*--cpu"):
        load_backend("vllm", str(pico_family["base"]), engine_python=sys.executable)


def _checkpoint_bytes(folder) -> int:
    return sum(t.numel() * t.element_size() for t in load_weights(folder).values())


def test_checkpoint_bytes_are_read_from_the_headers(pico_family):
    assert checkpoint_nbytes(str(pico_family["base"])) == _checkpoint_bytes(pico_family["base"])
    assert checkpoint_nbytes(str(pico_family["base"]), "bfloat16") * 2 == _checkpoint_bytes(pico_family["base"])


# A stand-in for vLLM's LLM: it records how the engine drives it, and, like vLLM's message encoder
# (without VLLM_ALLOW_INSECURE_SERIALIZATION), refuses to send a function to its workers.
_FAKE_VLLM = """
class SamplingParams:
    def __init__(self, **kw):
        self.kw = kw


class LLM:
    def __init__(self, model, **kw):
        self.model, self.kw, self.calls = model, kw, []

    def _send(self, *values):
        for v in values:
            if callable(v):
                raise TypeError(f"Object of type {type(v)} is not serializable. Set "
                                "VLLM_ALLOW_INSECURE_SERIALIZATION=1 to allow fallback to pickle-based serialization.")

    def apply_model(self, func):
        self._send(func)
        return [0]

    def collective_rpc(self, method, args=(), kwargs=None):
        self._send(method, *args, *(kwargs or {}).values())
        self.calls.append((method, kwargs))
        return [True]

    def reset_prefix_cache(self):
        self.calls.append(("reset_prefix_cache", None))
"""


@pytest.fixture
def fake_vllm(tmp_path, monkeypatch):
    """A ``vllm`` package whose platform the test sets (``fake_vllm("cpu")``)."""
    def install(device: str):
        (tmp_path / "vllm" / "platforms").mkdir(parents=True)
        (tmp_path / "vllm" / "__init__.py").write_text(textwrap.dedent(_FAKE_VLLM))
        (tmp_path / "vllm" / "platforms" / "__init__.py").write_text(
            f"class _Platform:\n    device_type = {device!r}\n\n\ncurrent_platform = _Platform()\n")
        monkeypatch.syspath_prepend(str(tmp_path))
        for name in ("vllm", "vllm.platforms"):
            monkeypatch.delitem(sys.modules, name, raising=False)
    yield install
    for name in ("vllm", "vllm.platforms"):
        sys.modules.pop(name, None)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_the_vllm_engine_runs_on_either_platform_and_reaches_its_worker_code_by_name(fake_vllm, pico_family, device):
    """The engine starts on the CPU platform as on a GPU; nothing it sends to vLLM's workers is a
    function (vLLM cannot send one without insecure pickling); its weight swap and re-tie are
    methods of a worker extension vLLM imports by name; its byte count is the checkpoint's."""
    from acdc_core.adapters.backends.engine_worker import VLLMEngine

    fake_vllm(device)
    engine = VLLMEngine(str(pico_family["base"]), {"dtype": "float32"})
    llm = engine.llm
    module, _, name = llm.kw["worker_extension_cls"].rpartition(".")
    assert module != "__main__" and getattr(importlib.import_module(module), name) is EngineWorkerExtension
    assert llm.kw["dtype"] == "float32"
    assert llm.kw["kv_cache_memory_bytes"] == (2**30 if device == "cpu" else None)  # not 85% of the RAM
    assert engine.nbytes == _checkpoint_bytes(pico_family["base"])
    engine.load_weights("/dev/shm/acdc-engine-weights-x")
    assert llm.calls == [("acdc_swap_weights", {"weights_path": "/dev/shm/acdc-engine-weights-x"}),
                         ("reset_prefix_cache", None)]


class _Method:
    def __init__(self):
        self.processed = []

    def process_weights_after_loading(self, layer):
        self.processed.append(layer.weight)


class _Head(torch.nn.Module):
    """An output layer like vLLM's ParallelLMHead on a CPU: its own (packed) copy after loading."""

    def __init__(self, embed: torch.nn.Embedding):
        super().__init__()
        self.weight = torch.nn.Parameter(embed.weight.detach().clone())
        self.quant_method = _Method()

    def tie_weights(self, embed):
        self.weight = embed.weight
        return self


def _model(embed: torch.nn.Embedding) -> torch.nn.Module:
    model = torch.nn.Module()
    model.model = torch.nn.Module()
    model.model.embed_tokens = embed
    model.lm_head = _Head(embed)
    return model


def test_a_tied_output_layer_is_retied_and_reprocessed_after_a_reload():
    model = _model(torch.nn.Embedding(5, 3))
    with torch.no_grad():
        model.model.embed_tokens.weight.add_(1.0)  # the reload: new embeddings, the head's copy is stale
    assert retie_output_layer(model, tied=True)
    assert model.lm_head.weight is model.model.embed_tokens.weight
    assert model.lm_head.quant_method.processed == [model.model.embed_tokens.weight]
    untied = _model(torch.nn.Embedding(5, 3))
    assert not retie_output_layer(untied, tied=False) and not untied.lm_head.quant_method.processed


# The real vLLM engine (vLLM's CPU build here, CUDA where the engine environment has it).

ENGINE_PROMPTS = ["What is 12 + 30?", "Reverse the word cat.", "Sort 3 1 2.", "The capital of France is",
                  "yes no true false", "abc", "Paris", "0123"]
ENGINE_OPTIONS = {"dtype": "float32", "batch_size": 8}


def _texts(gens) -> list[tuple[str, int]]:
    # A pico answers in random byte tokens: where an answer ends inside a UTF-8 character, hf decodes
    # the partial bytes to U+FFFD and vLLM's detokenizer holds them back; the tokens are the same.
    return [(g.text.rstrip("\ufffd"), g.tokens) for g in gens]


@pytest.fixture(scope="module")
def engine_python() -> str:
    """The engine environment's interpreter if it imports vLLM; else a skip, or a failure when
    ``ACDC_REQUIRE_ENGINE`` is set."""
    python = os.environ.get("ACDC_ENGINE_PYTHON") or str(DEFAULT_PYTHON)
    probe = subprocess.run([python, "-c", "import vllm"], capture_output=True, text=True) \
        if os.path.exists(python) else None
    if probe is not None and probe.returncode == 0:
        return python
    why = f"{python} does not exist" if probe is None else f"{python} cannot import vllm: {probe.stderr[-1500:]}"
    if os.environ.get("ACDC_REQUIRE_ENGINE", "0") != "0":
        pytest.fail(f"ACDC_REQUIRE_ENGINE is set and {why}; run scripts/setup-vllm.sh --cpu")
    pytest.skip(f"no vLLM engine environment ({why}; scripts/setup-vllm.sh --cpu makes one)")


@pytest.fixture(scope="module")
def engine_family(tmp_path_factory) -> dict:
    """Picos the CPU engine runs (head size 32, tied embeddings): ``base``, ``expert_a`` (base +
    noise) and ``other``, the same architecture from another random init, so a swap to it changes
    every weight, the embeddings included."""
    root = tmp_path_factory.mktemp("engine-pico")
    tokenizer = build_tokenizer(root / "tokenizer")  # one tokenizer object: identical files, one engine
    base = build_pico(root / "base", 0, tokenizer, **ENGINE_SHAPE)
    return {"base": base, "other": build_pico(root / "other", 3, tokenizer, **ENGINE_SHAPE),
            "expert_a": build_pico(root / "expert_a", 1, tokenizer, base=base, noise=0.02)}


@pytest.fixture(scope="module")
def vllm_engine(engine_python, engine_family):
    """One vLLM engine on ``base``, with ``fresh``: its answers before any swap."""
    assert "VLLM_ALLOW_INSECURE_SERIALIZATION" not in os.environ  # the engine must not need it
    engine = load_backend("vllm", str(engine_family["base"]), engine_python=engine_python, **ENGINE_OPTIONS)
    engine.fresh = _texts(engine.generate(ENGINE_PROMPTS, 12))
    yield engine
    engine.close()


def _hf_texts(folder) -> list[tuple[str, int]]:
    local = HFBackend(str(folder), device="cpu", dtype="float32", batch_size=8, torch_threads=1)
    try:
        return _texts(local.generate(ENGINE_PROMPTS, 12))
    finally:
        local.close()


@pytest.mark.slow
def test_vllm_engine_agrees_with_hf_and_swaps_in_place(vllm_engine, engine_family):
    """The engine answers as ``hf`` on its first model and after each swap, among them one to a
    model whose (tied) embeddings differ: without the re-tie, vLLM's CPU build would go on decoding
    with ``base``'s output layer (1 answer in 8 agreed).  One answer in 8 may differ from ``hf``
    on a near tie between two kernels' float32 sums; swapping back reproduces the engine's own
    first answers exactly."""
    assert sum(a == b for a, b in zip(vllm_engine.fresh, _hf_texts(engine_family["base"]))) >= 7
    for name in ("other", "expert_a", "base"):
        t0 = time.perf_counter()
        vllm_engine.load_weights(load_weights(engine_family[name]))
        swap = time.perf_counter() - t0
        ours = _texts(vllm_engine.generate(ENGINE_PROMPTS, 12))
        agree = sum(a == b for a, b in zip(ours, _hf_texts(engine_family[name])))
        assert agree >= 7, (name, agree, ours)
        print(f"swap to {name}: {swap:.2f} s, {agree}/8 answers as hf")
    assert ours == vllm_engine.fresh
    assert not [p for p in os.listdir("/dev/shm") if p.startswith("acdc-engine-weights-")]


@pytest.mark.slow
def test_vllm_engine_counts_the_checkpoint_bytes(vllm_engine, engine_family):
    """What the pool and the reports read as the model's memory: the checkpoint's weights, not the
    parameters vLLM's CPU build leaves after repacking its linear layers (embeddings and norms)."""
    assert vllm_engine.nbytes == _checkpoint_bytes(engine_family["base"])


@pytest.fixture(scope="module")
def vllm_run(tmp_path_factory, engine_python, engine_family):
    """A run under ``evaluation.backend: vllm`` whose store holds ``base`` and ``other``."""
    from acdc_core.config import parse_config
    from tasks.run_folder import init_run, model_key
    from tasks.sessions import release_candidate_model

    config = parse_config({"evaluation": {"backend": "vllm", "engine_python": engine_python, "dtype": "float32",
                                          "batch_size": 8}}, check_paths=False)
    ctx = init_run(tmp_path_factory.mktemp("vllm-run") / "run", config)
    for name in ("base", "other"):
        ctx.blobs.put_dir(engine_family[name], model_key(name))
    yield ctx
    release_candidate_model()


@pytest.mark.slow
def test_stored_models_swap_into_the_one_engine_of_a_vllm_run(vllm_run, vllm_engine, engine_family):
    """``evaluation.backend: vllm``: every stored model a step asks is swapped into the process's
    one engine, never loaded as an engine of its own nor kept in the pool of resident models, and
    answers exactly as an engine started on it: ``other`` here, ``base`` in ``vllm_engine``."""
    from tasks import sessions
    from tasks.sessions import MODEL_POOL

    loads = MODEL_POOL.loads
    with sessions.resident_backend(vllm_run, "other") as engine:
        pid = engine.pid
        fresh_other = _texts(engine.generate(ENGINE_PROMPTS, 12))
    with sessions.resident_backend(vllm_run, "base") as engine:
        assert engine.pid == pid
        assert _texts(engine.generate(ENGINE_PROMPTS, 12)) == vllm_engine.fresh
    with sessions.resident_backend(vllm_run, "other") as engine:
        assert engine.pid == pid
        assert _texts(engine.generate(ENGINE_PROMPTS, 12)) == fresh_other
    assert MODEL_POOL.loads == loads and MODEL_POOL.resident_bytes == 0


@pytest.mark.slow
def test_a_dead_vllm_engine_is_reported_and_replaced(vllm_run, vllm_engine):
    """An engine killed mid-run (the OOM killer, say): the step asking it fails with the exit
    named, none of vLLM's processes of that engine is left holding memory, and the next step
    starts a new engine that answers as before."""
    import psutil

    from tasks import sessions

    with sessions.resident_backend(vllm_run, "base") as engine:
        pid = engine.pid
        children = psutil.Process(pid).children(recursive=True)
    assert children, "vLLM runs its model in child processes"
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(EngineError, match="engine process exited"):
        with sessions.resident_backend(vllm_run, "base") as engine:
            engine.generate(ENGINE_PROMPTS, 12)
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, [p.name() for p in alive]
    with sessions.resident_backend(vllm_run, "base") as engine:
        assert engine.pid != pid
        assert _texts(engine.generate(ENGINE_PROMPTS, 12)) == vllm_engine.fresh
