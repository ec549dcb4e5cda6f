"""Pico Llama models (hidden 32, 2 layers) with a tiny BPE tokenizer, built offline for tests."""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
_CORPUS = [
    "What is 12 + 30? Answer: 42. The capital of France is Paris.",
    "Reverse the word cat: tac. Sort 3 1 2 -> 1 2 3. yes no true false",
    "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 .,:;!?'\"()[]{}+-*/=",
]


def build_tokenizer(out: Path, vocab_size: int = 400) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=["<unk>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(_CORPUS * 20, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", eos_token="<|im_end|>", pad_token="<|im_end|>",
        bos_token="<|im_start|>",
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out)
    return fast


ENGINE_SHAPE = {"hidden_size": 64, "intermediate_size": 128, "num_attention_heads": 2, "num_key_value_heads": 1,
                "tie_word_embeddings": True, "initializer_range": 0.3}
"""A pico the vLLM engine runs on a CPU: head size 32 (its CPU attention takes 32, 64, 80, ..., 512,
not the default pico's 8), and the output layer tied to the input embeddings as in SmolLM2; weights
drawn wider than the default's (std 0.3, not 0.02), else a tied pico answers every prompt with the same
token and no swap could show in its answers."""


def build_pico(out: Path, seed: int, tokenizer: PreTrainedTokenizerFast, base: Path | None = None,
               noise: float = 0.0, dtype: torch.dtype = torch.float32, **shape) -> Path:
    """A pico Llama at ``out``: random init from ``seed`` (``shape``: LlamaConfig fields that differ
    from the default pico's), or ``base`` + N(0, noise) per weight."""
    torch.manual_seed(seed)
    if base is None:
        cfg = LlamaConfig(**{
            "vocab_size": len(tokenizer), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
            "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 256,
            "eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id,
            "bos_token_id": tokenizer.bos_token_id, "tie_word_embeddings": False, **shape,
        })
        model = LlamaForCausalLM(cfg)
    else:
        model = LlamaForCausalLM.from_pretrained(base, dtype=torch.float32)
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn(p.shape, generator=g) * noise)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.to(dtype).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def build_family(root: Path, dtype: torch.dtype = torch.float32, **shape) -> dict[str, Path]:
    """A base and two experts (base + different noise): one architecture (``shape``: see
    :func:`build_pico`), one tokenizer."""
    tok = build_tokenizer(root / "tokenizer")
    base = build_pico(root / "base", 0, tok, dtype=dtype, **shape)
    return {
        "base": base,
        "expert_a": build_pico(root / "expert_a", 1, tok, base=base, noise=0.02, dtype=dtype),
        "expert_b": build_pico(root / "expert_b", 2, tok, base=base, noise=0.02, dtype=dtype),
    }
