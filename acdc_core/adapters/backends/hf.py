"""transformers backend: batched greedy generation with left padding on CPU or GPU; rows leave
the batch as soon as they finish."""

from __future__ import annotations

import gc
import os
import time

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache
from transformers.utils import logging as hf_logging

from acdc_core.adapters.backends.base import Generation
from acdc_core.adapters.backends.dtype import resolve_dtype

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
        dtype: compute dtype, or ``auto`` (see :func:`acdc_core.adapters.backends.dtype.resolve_dtype`).
        share_prefix: run a batch's common prompt prefix once and share its KV cache (see
            ``_greedy``); False prefills every row whole.

    Attributes:
        nbytes: memory of the loaded parameters and buffers, bytes (what a resident model costs).

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
        share_prefix: bool = True,
    ):
        if torch_threads:
            torch.set_num_threads(torch_threads)
        self.device = device
        self.batch_size = batch_size
        self.share_prefix = share_prefix
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.use_chat_template = use_chat_template and bool(self.tokenizer.chat_template)
        self.dtype = resolve_dtype(dtype, device)
        self.model = AutoModelForCausalLM.from_pretrained(model_path, dtype=getattr(torch, self.dtype))
        self.model.to(device).eval()
        self.nbytes = sum(t.numel() * t.element_size()
                          for t in [*self.model.parameters(), *self.model.buffers()])

    @torch.no_grad()
    def load_weights(self, weights: dict[str, torch.Tensor]) -> None:
        """Replace the model's weights in place with ``weights`` (a state dict of the same
        architecture, any float dtype; cast to the compute dtype): a new candidate in the loaded
        model, with no disk round trip.  Tied parameters (a language-model head sharing the
        embedding) may be absent; they follow the tensor they share.

        Raises:
            ValueError: when a name is unknown, a shape differs, or an untied tensor is missing.
        """
        params = {**dict(self.model.named_parameters(remove_duplicate=False)),
                  **dict(self.model.named_buffers(remove_duplicate=False))}
        persistent = set(self.model.state_dict())
        unknown = sorted(set(weights) - set(params))
        given = {params[n].data_ptr() for n in weights if n in params}
        missing = sorted(n for n, t in params.items()
                         if n in persistent and n not in weights and t.data_ptr() not in given)
        if unknown or missing:
            raise ValueError(f"weights do not fit the model: unknown {unknown[:5]}, missing {missing[:5]}")
        for name, w in weights.items():  # all checked before any is copied: a misfit leaves the model whole
            if params[name].shape != w.shape:
                raise ValueError(f"{name}: shape {tuple(w.shape)} where the model has {tuple(params[name].shape)}")
        for name, w in weights.items():
            params[name].copy_(w)

    @torch.inference_mode()
    def generate(self, prompts: list[str], max_new_tokens: int, temperature: float = 0.0,
                 seed: int = 0) -> list[Generation]:
        """One :class:`Generation` per prompt, in order; greedy at ``temperature`` 0, else sampled
        (one ``torch.Generator`` seeded with ``seed`` for the whole call, so a call repeats itself)."""
        generator = torch.Generator(device=self.device).manual_seed(seed) if temperature else None
        texts = [format_prompt(self.tokenizer, p, self.use_chat_template)[0] for p in prompts]
        special = not self.use_chat_template
        order = sorted(range(len(texts)), key=lambda i: (len(texts[i]), i))
        out: list[Generation | None] = [None] * len(texts)
        eos = self.model.generation_config.eos_token_id or self.tokenizer.eos_token_id
        stops = torch.tensor(eos if isinstance(eos, list) else [eos], device=self.device)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            ids = self.tokenizer([texts[i] for i in idx], add_special_tokens=special).input_ids
            t0 = time.perf_counter()
            rows = self._decode(ids, max_new_tokens, stops, temperature, generator)
            dt = (time.perf_counter() - t0) / len(idx)
            for row, i in zip(rows, idx):
                out[i] = Generation(self.tokenizer.decode(row, skip_special_tokens=True), len(row), dt)
        return out  # type: ignore[return-value]

    def _decode(self, ids: list[list[int]], max_new_tokens: int, stops: torch.Tensor, temperature: float = 0.0,
                generator: torch.Generator | None = None) -> list[list[int]]:
        """Greedy (``temperature`` 0) or sampled decoding of a batch of token id lists.

        The prompts' common prefix (a chat template's system turn, a shared instruction) is run
        once and its KV cache shared by every row, so the prefill computes each row's own tokens
        only (``bench/bench_generation.py`` measures it); the rest is left-padded after the
        prefix, with the padding masked out and positions counted over real tokens.  Each row
        leaves the batch (and its KV cache) once it has produced a stop token, so finished
        answers cost nothing more.

        Returns the generated token ids per row, up to and including the first stop token.
        """
        n = len(ids)
        cut = len(os.path.commonprefix(ids)) if n > 1 and self.share_prefix else 0
        cut = min(cut, min(len(r) for r in ids) - 1)  # every row keeps a token of its own
        width = max(len(r) for r in ids) - cut
        pad = self.tokenizer.pad_token_id
        suffix = torch.tensor([[pad] * (width - len(r) + cut) + r[cut:] for r in ids], device=self.device)
        attention_mask = torch.tensor([[1] * cut + [0] * (width - len(r) + cut) + [1] * (len(r) - cut) for r in ids],
                                      device=self.device)
        cache = DynamicCache(config=self.model.config)
        if cut:
            self.model(input_ids=torch.tensor([ids[0][:cut]], device=self.device), cache=cache, use_cache=True,
                       logits_to_keep=1)
            cache.batch_repeat_interleave(n)
        alive = torch.arange(n, device=self.device)
        out: list[list[int]] = [[] for _ in range(n)]
        positions = (attention_mask.cumsum(-1) - 1).clamp(min=0)[:, cut:]
        logits = self.model(input_ids=suffix, attention_mask=attention_mask, position_ids=positions,
                            cache=cache, use_cache=True, logits_to_keep=1).logits
        for step in range(max_new_tokens):
            if temperature:
                probs = torch.softmax(logits[:, -1].float() / temperature, dim=-1)
                token = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            else:
                token = logits[:, -1].argmax(-1)
            for row, t in zip(alive.tolist(), token.tolist()):
                out[row].append(t)
            done = torch.isin(token, stops)
            if step == max_new_tokens - 1 or bool(done.all()):
                break
            if bool(done.any()):
                keep = (~done).nonzero().squeeze(1)
                cache.batch_select_indices(keep)
                alive, token, attention_mask = alive[keep], token[keep], attention_mask[keep]
            attention_mask = torch.cat([attention_mask, attention_mask.new_ones((len(alive), 1))], dim=1)
            positions = attention_mask.sum(-1, keepdim=True) - 1
            logits = self.model(input_ids=token[:, None], attention_mask=attention_mask, position_ids=positions,
                                cache=cache, use_cache=True, logits_to_keep=1).logits
        return out

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
