"""transformers backend: batched greedy generation with left padding on CPU or GPU."""

from __future__ import annotations

import gc
import time

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.utils import logging as hf_logging

from acdc_core.backends.base import Generation

hf_logging.disable_progress_bar()  # per-load weight bars would drown the run's progress lines


def format_prompt(tokenizer, prompt: str, use_chat_template: bool = True) -> tuple[str, bool]:
    """``prompt`` as a user turn of the tokenizer's chat template, ready for the reply; the
    prompt itself when the tokenizer has no template (a base model) or templates are off.

    Returns:
        (text, add_special_tokens): a chat template writes its own BOS; a plain prompt needs the
        tokenizer's (Gemma degenerates into repetition without it).
    """
    if not (use_chat_template and tokenizer.chat_template):
        return prompt, True
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
    )
    return text, False


class HFBackend:
    """A Hugging Face causal LM loaded from a local folder.

    Args:
        model_path: HF folder (config.json, safetensors, tokenizer).
        device: torch device string.
        batch_size: prompts per ``generate`` call; prompts are sorted by length first.
        use_chat_template: wrap each prompt as a user turn when the tokenizer has a template.
        torch_threads: CPU threads for this process (set once per load).
        dtype: compute dtype; float32 on CPU (bf16 matmuls are slow there).

    Raises:
        OSError / ValueError: when the folder is not a loadable model.
    """

    def __init__(
        self,
        model_path: str,
        device: str = "cpu",
        batch_size: int = 32,
        use_chat_template: bool = True,
        torch_threads: int | None = None,
        dtype: str = "float32",
    ):
        if torch_threads:
            torch.set_num_threads(torch_threads)
        self.device = device
        self.batch_size = batch_size
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.use_chat_template = use_chat_template and bool(self.tokenizer.chat_template)
        self.model = AutoModelForCausalLM.from_pretrained(model_path, dtype=getattr(torch, dtype))
        self.model.to(device).eval()


    @torch.inference_mode()
    def generate(self, prompts: list[str], max_new_tokens: int) -> list[Generation]:
        texts = [format_prompt(self.tokenizer, p, self.use_chat_template)[0] for p in prompts]
        special = not self.use_chat_template
        order = sorted(range(len(texts)), key=lambda i: (len(texts[i]), i))
        out: list[Generation | None] = [None] * len(texts)
        eos = self.model.generation_config.eos_token_id or self.tokenizer.eos_token_id
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            enc = self.tokenizer(
                [texts[i] for i in idx], return_tensors="pt", padding=True, add_special_tokens=special
            ).to(self.device)
            t0 = time.perf_counter()
            gen = self.model.generate(
                **enc,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=self.tokenizer.pad_token_id,
            )
            dt = (time.perf_counter() - t0) / len(idx)
            new = gen[:, enc["input_ids"].shape[1] :]
            for row, i in zip(new, idx):
                n = _len_until_eos(row, eos)
                out[i] = Generation(self.tokenizer.decode(row[:n], skip_special_tokens=True), n, dt)
        return out  # type: ignore[return-value]

    def close(self) -> None:
        del self.model
        gc.collect()


def _len_until_eos(row: torch.Tensor, eos: int | list[int] | None) -> int:
    """Generated tokens up to and including the first EOS (what follows it is padding)."""
    ids = row.tolist()
    stops = set(eos if isinstance(eos, list) else [eos])
    for n, tok in enumerate(ids, 1):
        if tok in stops:
            return n
    return len(ids)
