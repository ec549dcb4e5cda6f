"""What the ``vllm`` engine runs inside vLLM's own worker processes, reached by name.

vLLM mixes :class:`EngineWorkerExtension` into each of its workers (``LLM(worker_extension_cls=...)``),
and :class:`~acdc_core.adapters.backends.engine_worker.VLLMEngine` calls its methods through
``LLM.collective_rpc("acdc_...")``.  Nothing crosses to those processes but a method name and plain
arguments: ``LLM.apply_model(func)`` would pickle ``func``, which vLLM refuses unless
``VLLM_ALLOW_INSECURE_SERIALIZATION=1`` (and a function defined in the worker script, a ``__main__``
module, cannot be unpickled there at all).  This module lives in an importable package so that
vLLM's workers, which inherit the engine process's ``PYTHONPATH``, can import it; it imports
nothing beyond the standard library at import time.
"""

from __future__ import annotations

EXTENSION = f"{__name__}.EngineWorkerExtension"
"""The dotted name passed to ``vllm.LLM(worker_extension_cls=...)``."""


def retie_output_layer(model, tied: bool) -> bool:
    """Point the output layer of a model with tied embeddings (SmolLM2, Gemma) back at its input
    embeddings and redo its after-loading step; True when it did.

    Needed after an in-place reload: vLLM's CPU build repacks the output layer's weight for its
    matrix kernels when the model loads, and a reload leaves that packed copy as it was (the
    checkpoint holds no separate output layer; vLLM logs ``ParallelLMHead: Failed to load
    weights``), so without this the engine goes on decoding with the first model's embeddings.
    On a GPU the step is a no-op: the output layer reads the embedding tensor itself.
    """
    head = getattr(model, "lm_head", None)
    embed = getattr(getattr(model, "model", None), "embed_tokens", None)
    if not tied or head is None or embed is None or not hasattr(head, "tie_weights"):
        return False
    head.tie_weights(embed)
    method = getattr(head, "quant_method", None)
    if method is not None:
        method.process_weights_after_loading(head)
    return True


class EngineWorkerExtension:
    """Methods added to vLLM's worker class (``self`` is the worker: ``model_runner``,
    ``vllm_config``, ``reload_weights``)."""

    def acdc_swap_weights(self, weights_path: str) -> bool:
        """Reload the model's weights in place from the safetensors folder ``weights_path`` (same
        architecture), then re-tie a tied output layer (see :func:`retie_output_layer`).  Returns
        whether the output layer was re-tied."""
        from vllm.config import set_current_vllm_config

        self.reload_weights(weights_path=weights_path)
        tied = bool(getattr(self.vllm_config.model_config.hf_text_config, "tie_word_embeddings", False))
        with set_current_vllm_config(self.vllm_config):
            return retie_output_layer(self.model_runner.get_model(), tied)
