"""Chat clients for the LLMs the scientist and the judge are reached through.

A :class:`ChatClient` takes a *batch* of conversations (OpenAI message dicts,
``{"role": "system" | "user" | "assistant", "content": str}``) and returns the assistant's reply
text for each, in order.  Two implementations:

* :class:`OpenAIChat` -- any server speaking the OpenAI chat-completions protocol (vLLM,
  llama.cpp, a hosted provider), through the official ``openai`` client, which also does the
  retries with exponential backoff.
* :class:`HFChat` -- a local transformers chat-model folder, batched generation on CPU or GPU.

:func:`make_chat` builds one from a ``scientist`` / ``judge`` config section.  ``openai``,
``torch`` and ``transformers`` are imported only when a client is built, so importing this module
stays cheap.
"""

from __future__ import annotations

import gc
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

from acdc_core.scientist.base import Scientist

log = logging.getLogger(__name__)


class ChatError(RuntimeError):
    """An endpoint that cannot answer; the message names the endpoint (URL or folder) and why."""


class ChatClient(Protocol):
    """An LLM behind a chat interface, answering a batch of conversations at a time."""

    def complete(self, conversations: list[list[dict]]) -> list[str]:
        """The assistant's reply text for each conversation, in order.

        Raises:
            ChatError: when the endpoint cannot answer one of them.
        """
        ...

    def close(self) -> None:
        """Release connections / model memory."""
        ...


class OpenAIChat:
    """A model served behind the OpenAI chat-completions protocol.

    Args:
        base_url: the API root, e.g. ``http://localhost:8000/v1``.
        model: served model name.
        api_key_env: environment variable holding the API key; when it is unset the placeholder
            ``"EMPTY"`` is sent (local vLLM / llama.cpp servers need no key).
        timeout_s: seconds one HTTP attempt may take.
        max_retries: retries per request (the openai client's own: exponential backoff from
            ~0.5 s on 408 / 409 / 429 / 5xx answers, timeouts and connection errors).
        concurrency: requests in flight at once.
        temperature, top_p, max_tokens: sampling parameters sent with every request.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str = "OPENAI_API_KEY",
        timeout_s: float = 120.0,
        max_retries: int = 3,
        concurrency: int = 4,
        temperature: float = 0.7,
        top_p: float = 1.0,
        max_tokens: int = 2048,
    ):
        import openai

        api_key = os.environ.get(api_key_env)
        if not api_key:
            log.info("%s is not set: sending the placeholder API key 'EMPTY' to %s", api_key_env, base_url)
            api_key = "EMPTY"
        self.base_url = base_url
        self.model = model
        self.timeout_s = timeout_s
        self.concurrency = concurrency
        self.temperature = temperature
        self.top_p = top_p
        self.max_tokens = max_tokens
        self._client = openai.OpenAI(
            base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=max_retries
        )

    def complete(self, conversations: list[list[dict]]) -> list[str]:
        """One reply text per conversation, in order (``""`` where the server sent no content).

        Raises:
            ChatError: naming ``base_url``, ``model`` and the cause (HTTP status, timeout,
                connection failure) of the first conversation that failed after all retries;
                requests not yet started are cancelled.
        """
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="chat") as pool:
            futures = [pool.submit(self._one, conv) for conv in conversations]
            try:
                return [f.result() for f in futures]
            except ChatError:
                for f in futures:
                    f.cancel()
                raise

    def _one(self, messages: list[dict]) -> str:
        import openai

        try:
            resp = self._client.chat.completions.create(
                model=self.model,
                messages=messages,
                temperature=self.temperature,
                top_p=self.top_p,
                max_tokens=self.max_tokens,
            )
        except openai.APITimeoutError as e:
            raise ChatError(self._where(f"timed out after {self.timeout_s} s")) from e
        except openai.APIConnectionError as e:
            raise ChatError(self._where(f"connection failed: {e.__cause__ or e}")) from e
        except openai.APIStatusError as e:
            raise ChatError(self._where(f"{type(e).__name__} (HTTP {e.status_code}): {e.message}")) from e
        except openai.APIError as e:
            raise ChatError(self._where(f"{type(e).__name__}: {e}")) from e
        if not resp.choices:
            raise ChatError(self._where("the response has no choices"))
        return resp.choices[0].message.content or ""

    def _where(self, cause: str) -> str:
        return f"chat endpoint {self.base_url} (model {self.model}): {cause}"

    def close(self) -> None:
        self._client.close()


class HFChat:
    """A local transformers chat model, generating for a batch of conversations at once.

    Conversations are rendered with the tokenizer's chat template (generation prompt added),
    sorted by length and generated ``batch_size`` at a time with left padding.

    Args:
        model: a local folder (config.json, weights, tokenizer with a chat template).
        device: torch device string; weights are float32 on CPU, bfloat16 elsewhere.
        temperature: 0 decodes greedily; above 0 samples with ``temperature`` and ``top_p``.
        top_p: nucleus-sampling mass.
        max_tokens: new tokens per reply at most.
        seed: ``torch.manual_seed(seed + k)`` before the k-th ``complete`` call (k = 0, 1, ...),
            so a run's replies are reproducible while repeated prompts may still differ.
        batch_size: conversations per ``generate`` call.
        chat_template: a Jinja chat template used when the tokenizer has none (a base model).

    Raises:
        ChatError: when the folder is missing, cannot be loaded, or has no chat template and
            none is given.
    """

    def __init__(
        self,
        model: str,
        device: str = "cpu",
        temperature: float = 0.7,
        top_p: float = 1.0,
        max_tokens: int = 2048,
        seed: int = 0,
        batch_size: int = 16,
        chat_template: str | None = None,
    ):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # per-load weight bars would drown the run's progress lines
        if not Path(model).is_dir():
            raise ChatError(f"chat model folder {model}: not a folder")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model)
        except (OSError, ValueError) as e:
            raise ChatError(f"chat model folder {model}: cannot load the tokenizer: {e}") from e
        self.tokenizer.chat_template = self.tokenizer.chat_template or chat_template
        if not self.tokenizer.chat_template:
            raise ChatError(f"chat model folder {model}: the tokenizer has no chat template (a base model? "
                            "give one as chat_template)")
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        dtype = torch.float32 if device == "cpu" else torch.bfloat16
        try:
            self.model = AutoModelForCausalLM.from_pretrained(model, dtype=dtype)
        except (OSError, ValueError) as e:
            raise ChatError(f"chat model folder {model}: cannot load the model: {e}") from e
        self.model.to(device).eval()
        self.device = device
        self.temperature = temperature
        self.top_p = top_p
        self.max_tokens = max_tokens
        self.seed = seed
        self.batch_size = batch_size
        self._calls = 0

    def complete(self, conversations: list[list[dict]]) -> list[str]:
        """One reply text per conversation, in order, special tokens removed."""
        import torch

        from acdc_core.adapters.backends.hf import _len_until_eos

        texts = [
            self.tokenizer.apply_chat_template(conv, tokenize=False, add_generation_prompt=True)
            for conv in conversations
        ]
        order = sorted(range(len(texts)), key=lambda i: (len(texts[i]), i))
        eos = self.model.generation_config.eos_token_id or self.tokenizer.eos_token_id
        sampling = (
            {"do_sample": True, "temperature": self.temperature, "top_p": self.top_p}
            if self.temperature > 0
            else {"do_sample": False}
        )
        torch.manual_seed(self.seed + self._calls)
        self._calls += 1
        out = [""] * len(texts)
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                enc = self.tokenizer(
                    [texts[i] for i in idx], return_tensors="pt", padding=True, add_special_tokens=False
                ).to(self.device)
                gen = self.model.generate(
                    **enc, max_new_tokens=self.max_tokens, pad_token_id=self.tokenizer.pad_token_id, **sampling
                )
                for row, i in zip(gen[:, enc["input_ids"].shape[1] :], idx):
                    out[i] = self.tokenizer.decode(row[: _len_until_eos(row, eos)], skip_special_tokens=True)
        return out

    def close(self) -> None:
        del self.model
        gc.collect()


def make_chat(section, seed: int = 0) -> ChatClient:
    """The chat client a ``ScientistSection`` / ``JudgeSection`` describes.

    Args:
        section: a config section whose ``backend`` is ``"openai"`` or ``"hf"``.
        seed: sampling seed of the ``hf`` backend (the openai backend ignores it).

    Raises:
        ValueError: for a backend that is not a chat endpoint (``template``, ``none``).
        ChatError: when a local ``hf`` folder cannot be loaded.
    """
    if section.backend == "openai":
        return OpenAIChat(
            base_url=section.base_url,
            model=section.model,
            api_key_env=section.api_key_env,
            timeout_s=section.timeout_s,
            max_retries=section.max_retries,
            concurrency=section.concurrency,
            temperature=section.temperature,
            top_p=section.top_p,
            max_tokens=section.max_tokens,
        )
    if section.backend == "hf":
        return HFChat(
            model=section.model,
            device=section.device,
            temperature=section.temperature,
            top_p=section.top_p,
            max_tokens=section.max_tokens,
            seed=seed,
            chat_template=section.chat_template,
        )
    raise ValueError(f"backend {section.backend!r} is not a chat endpoint (expected 'openai' or 'hf')")


def make_scientist(section) -> Scientist:
    """The scientist of a ``ScientistSection``: the offline template scientist, or an LLM
    scientist over :func:`make_chat` (LLM clients are imported only when configured)."""
    if section.backend == "template":
        from acdc_core.scientist.templates import TemplateScientist

        return TemplateScientist()
    from acdc_core.scientist.llm import LLMScientist

    return LLMScientist(make_chat(section))
