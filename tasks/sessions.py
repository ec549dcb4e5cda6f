"""Where this process runs models and task code for a run's steps: the resident pool of stored
models, the one model candidates' weights are swapped into, the sandbox and the LLM judge.

Process-global state, each owned here with its lifetime:

- :data:`MODEL_POOL`: stored models kept loaded within ``evaluation.resident_gb``; a run clears it
  at its end (:func:`close_run_sessions`).
- :data:`_CANDIDATE_MODEL`: the one loaded model candidates are evaluated in; closed at a run's end,
  or when another architecture needs it.
- :func:`_judge`: one judge client per judge config (its HTTP pool or local model), kept for the
  life of the process.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from acdc_core.adapters.backends import ModelBackend, load_backend
from acdc_core.adapters.backends.pool import ModelPool
from acdc_core.adapters.sandbox import Sandbox
from acdc_core.adapters.seeds import SHIPPED
from acdc_core.adapters.weights import load_weights
from acdc_core.config import SHIPPED_FAMILIES, ChatEndpoint, JudgeSection
from acdc_core.judge import Judge
from tasks.run_folder import RunContext
from tasks.shipped import shipped_seed_folder


def sandbox(ctx: RunContext) -> Sandbox:
    """A sandbox with the run's configured limits, answering ``eval_with_llm_judge`` calls
    through the run's judge when one is configured."""
    s = ctx.config.sandbox
    return Sandbox(s.limits(), judge=judge(ctx), allow_weak_isolation=s.allow_weak_isolation)


def judge(ctx: RunContext, section: JudgeSection | None = None) -> Judge | None:
    """The LLM judge of ``section`` (default: the run's ``judge``), or None when its backend
    is none."""
    section = section or ctx.config.judge
    if section.backend == "none":
        return None
    return _judge(section)


def backend(ctx: RunContext, model_id: str, **overrides) -> ModelBackend:
    """The stored model ``model_id`` loaded in the run's evaluation backend and settings
    (``overrides``: backend options that differ, e.g. ``dtype``)."""
    e = ctx.config.evaluation
    return load_backend(e.backend, str(ctx.model_dir(model_id)), **{**_backend_options(ctx), **overrides})


@contextmanager
def resident_backend(ctx: RunContext, model_id: str) -> Iterator[ModelBackend]:
    """The stored model ``model_id`` from this process's pool of resident models (loaded on
    a miss), kept there afterwards within ``evaluation.resident_gb``.  For models that are
    asked again (archive members, seeds); a one-off child uses :func:`backend`.  With the
    ``vllm`` backend the model is swapped into the process's one engine instead (see
    :func:`candidate_backend`): a second engine would double the GPU memory, and a swap costs
    less than an engine start."""
    e = ctx.config.evaluation
    if e.backend == "vllm":  # one engine per process, never one per model: stored models swap in too
        with candidate_backend(ctx, model_id) as backend:
            backend.load_weights(load_weights(ctx.model_dir(model_id)))
            yield backend
        return
    path = str(ctx.model_dir(model_id))
    options = _backend_options(ctx)
    MODEL_POOL.budget_bytes = int(e.resident_gb * 1e9)
    key = (e.backend, path, tuple(sorted(options.items())))
    with MODEL_POOL.session(key, lambda: load_backend(e.backend, path, **options)) as backend:
        yield backend


@contextmanager
def candidate_backend(ctx: RunContext, template_id: str) -> Iterator[ModelBackend]:
    """A loaded model for candidates built in memory: loaded once per process from the
    stored model ``template_id`` (architecture, tokenizer) and kept, since every candidate
    of a run shares them; the caller swaps each candidate's weights in with
    ``load_weights``.  A session that raises closes it (its weights are not trusted)."""
    e = ctx.config.evaluation
    folder = ctx.model_dir(template_id)
    options = _backend_options(ctx)
    key = (e.backend, tuple(sorted(options.items())), _architecture_hash(folder))
    held = _CANDIDATE_MODEL.pop(key, None)
    release_candidate_model()  # another architecture or settings: release it first
    backend = held or load_backend(e.backend, str(folder), **options)
    try:
        yield backend
    except BaseException:
        backend.close()
        raise
    _CANDIDATE_MODEL[key] = backend


def _backend_options(ctx: RunContext) -> dict:
    e = ctx.config.evaluation
    options = {"device": e.device, "batch_size": e.batch_size, "use_chat_template": e.use_chat_template,
               "torch_threads": e.torch_threads, "dtype": e.dtype, "share_prefix": e.share_prefix}
    if e.backend == "vllm":
        options.update(engine_python=e.engine_python, gpu_memory_utilization=e.gpu_memory_utilization)
    return options


MODEL_POOL = ModelPool()
"""This process's resident models (see :func:`resident_backend`); a run clears it at its end."""

_CANDIDATE_MODEL: dict[tuple, ModelBackend] = {}
"""The one model this process swaps candidates' weights into (see :func:`candidate_backend`)."""


def pool_counts() -> tuple[int, int]:
    """(loads, hits) of the resident pool so far in this process."""
    return MODEL_POOL.loads, MODEL_POOL.hits


def release_candidate_model() -> None:
    """Close the model candidates are evaluated in (at a run's end)."""
    while _CANDIDATE_MODEL:
        _CANDIDATE_MODEL.popitem()[1].close()


def _architecture_hash(folder: Path) -> str:
    """Hash of a model folder's config and tokenizer files: what a loaded model keeps when its
    weights are swapped."""
    h = hashlib.sha256()
    for f in sorted(folder.iterdir()):
        if f.is_file() and f.name.endswith((".json", ".model", ".txt", ".jinja")) and "safetensors" not in f.name \
                and not f.name.startswith(("_", "acdc_")):
            h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=4)
def _judge(section: JudgeSection) -> Judge:
    """One judge client per process and config (its HTTP pool or local model is reused)."""
    from acdc_core.adapters.chat import make_chat

    return Judge(make_chat(local_chat(section)))


def local_chat(section: ChatEndpoint) -> ChatEndpoint:
    """``section`` with a shipped family named as its ``hf`` model (``gemma3``) replaced by the
    folder converted from the wheel (once per machine, see :func:`tasks.shipped.shipped_seed_folder`),
    and the family's chat template where the section names none."""
    if getattr(section, "backend", None) != "hf" or section.model not in SHIPPED_FAMILIES:
        return section
    folder = shipped_seed_folder(section.model, "bfloat16", logging.getLogger(__name__))
    return section.model_copy(update={
        "model": folder, "chat_template": section.chat_template or SHIPPED[section.model].chat_template})


def close_run_sessions() -> None:
    """Release everything this module holds for a run (at its end): the resident models and the
    candidate model.  The process may go on (tests, notebooks)."""
    MODEL_POOL.clear()
    release_candidate_model()
