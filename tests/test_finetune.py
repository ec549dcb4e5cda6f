"""LoRA fine-tuning on a pico model: it learns, it touches only the layers asked, it stops on NaN."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoTokenizer

from acdc_core.adapters.backends.hf import HFBackend, format_prompt
from acdc_core.adapters.finetune import TrainingDiverged, TrainPair, TrainSpec, _batch, _encode, finetune

PAIRS = [TrainPair(f"What is {a} + {a}?", f"Answer: {2 * a}") for a in range(1, 9)]


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


def test_targets_are_the_completion_tokens_shifted_by_one(pico_family):
    tok = AutoTokenizer.from_pretrained(str(pico_family["base"]))
    pairs = [TrainPair("What is 1 + 1?", "Answer: 2"), TrainPair("Hi", "Answer: long reply", ends=False)]
    encoded = _encode(tok, pairs, chat=True)
    ids, mask, targets = _batch(encoded, pad_id=0)
    for row, (seq, start) in enumerate(encoded):
        assert tok.decode(seq[:start]) == format_prompt(tok, pairs[row].prompt)[0]
        assert mask[row].sum() == len(seq)
        kept = targets[row][targets[row] != -100].tolist()
        assert kept == seq[start:]
        assert targets[row, start - 1] == seq[start]  # position start-1 predicts the first answer token
    assert encoded[0][0][-1] == tok.eos_token_id and encoded[1][0][-1] != tok.eos_token_id


def test_finetune_learns(pico_family, tmp_path):
    # A pico model's logits are bounded by its frozen final norm and random head (about ln(400) = 6
    # nats at init): LoRA can take off a fraction of a nat, not more.
    spec = TrainSpec(steps=30, batch_size=8, lr=2e-2, warmup=2, lora_rank=8, lora_alpha=16)
    curve = finetune(pico_family["base"], tmp_path / "out", PAIRS, spec, save_dtype="float32")
    assert len(curve) == 30
    assert sum(curve[-5:]) / 5 < sum(curve[:5]) / 5 - 0.3


def test_lora_is_merged_into_the_top_layers_only(pico_family, tmp_path):
    spec = TrainSpec(steps=3, batch_size=8, lr=1e-2, warmup=1, lora_rank=8, lora_alpha=16, lora_layers=1)
    finetune(pico_family["base"], tmp_path / "out", PAIRS, spec, save_dtype="float32")
    before, after = weights(pico_family["base"]), weights(tmp_path / "out")
    assert set(before) == set(after)  # merged: plain weights, no LoRA tensors left
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("model.layers.1.") for k in changed)
    # the merged folder is a working model for the evaluation backend
    backend = HFBackend(str(tmp_path / "out"), batch_size=4, torch_threads=1)
    assert len(backend.generate(["What is 3 + 3?"], 4)) == 1
    backend.close()


def test_finetune_is_reproducible(pico_family, tmp_path):
    spec = TrainSpec(steps=4, batch_size=4, lr=5e-3, warmup=1, lora_rank=4, seed=7)
    a = finetune(pico_family["base"], tmp_path / "a", PAIRS, spec, save_dtype="float32")
    b = finetune(pico_family["base"], tmp_path / "b", PAIRS, spec, save_dtype="float32")
    assert a == b
    assert all(torch.equal(x, weights(tmp_path / "b")[k]) for k, x in weights(tmp_path / "a").items())


def test_divergence_stops_and_writes_nothing(pico_family, tmp_path):
    spec = TrainSpec(steps=20, batch_size=8, lr=1e30, warmup=0, lora_rank=4)
    with pytest.raises(TrainingDiverged, match=r"loss is (nan|inf) at step \d+/20 \(lr 1e\+30\)"):
        finetune(pico_family["base"], tmp_path / "out", PAIRS, spec, save_dtype="float32")
    assert not (tmp_path / "out").exists()


def test_no_pairs(pico_family, tmp_path):
    with pytest.raises(ValueError, match="no training pairs"):
        finetune(pico_family["base"], tmp_path / "out", [], TrainSpec(steps=1))
