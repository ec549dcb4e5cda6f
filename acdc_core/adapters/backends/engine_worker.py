"""A model engine in its own process and Python environment, driven over stdin/stdout.

vLLM cannot be installed beside Prefect 3.9 and transformers 5.24 (it pins fastapi and
transformers<5.21), so the ``vllm`` backend runs the engine here, started by
:class:`acdc_core.adapters.backends.engine_client.EngineBackend` with the interpreter of the
environment ``scripts/setup-vllm.sh`` builds.  The process keeps one engine resident for the
whole run and swaps each candidate's weights into it in place.

Protocol: one JSON object per line.  The worker first writes ``{"ok": true, "ready": {"nbytes"}}``
(or ``{"ok": false, "error"}`` when the engine cannot start); then answers each request:

- ``{"op": "generate", "prompts": [str], "max_new_tokens": int, "temperature": float, "seed": int}`` ->
  ``{"ok": true, "generations": [{"text", "tokens", "seconds"}]}``;
- ``{"op": "load_weights", "path": folder}`` (a safetensors folder of the same architecture,
  written to shared memory by the client) -> ``{"ok": true}``;
- ``{"op": "close"}`` -> ``{"ok": true}``, and the process exits.

A failing request answers ``{"ok": false, "error"}`` and the worker goes on.  Logs go to stderr:
stdout carries the protocol alone.  Engines: ``vllm`` on a CUDA GPU or the CPU (greedy
``SamplingParams``, the prompts tokenised exactly as the ``hf`` backend tokenises them) and ``hf``
(the transformers backend, for tests of the protocol and for an engine environment without vLLM).
``ready.nbytes`` is the checkpoint's weight bytes at the compute dtype (:func:`checkpoint_nbytes`).
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path


class HFEngine:
    """The transformers backend behind the worker protocol."""

    def __init__(self, model_path: str, options: dict):
        from acdc_core.adapters.backends.hf import HFBackend

        self.backend = HFBackend(model_path, **options)
        self.nbytes = self.backend.nbytes

    def generate(self, prompts: list[str], max_new_tokens: int, temperature: float = 0.0, seed: int = 0) -> list[dict]:
        return [g.__dict__ for g in self.backend.generate(prompts, max_new_tokens, temperature, seed)]

    def load_weights(self, path: str) -> None:
        from acdc_core.adapters.weights import load_weights

        self.backend.load_weights(load_weights(path))

    def close(self) -> None:
        self.backend.close()


class VLLMEngine:
    """One resident vLLM engine (``vllm.LLM``), on a CUDA GPU or, with vLLM's CPU build
    (``scripts/setup-vllm.sh --cpu``), on the CPU.  A candidate's weights are reloaded into it in
    place by :class:`~acdc_core.adapters.backends.vllm_extension.EngineWorkerExtension` (vLLM's
    ``reload_weights``, then the tied output layer re-tied), and the prefix cache, which holds KV
    blocks computed with the old weights, is dropped after each swap.

    Options: those of the ``hf`` backend (``batch_size`` becomes vLLM's ``max_num_seqs``;
    ``use_chat_template``, ``dtype``) plus ``gpu_memory_utilization``, ``tensor_parallel_size``
    and ``kv_cache_gb`` (the KV cache's size; default: vLLM's share of the GPU, or
    ``CPU_KV_CACHE_GB`` on a CPU, where vLLM would otherwise ask for ``gpu_memory_utilization`` of
    the machine's RAM; ``VLLM_CPU_KVCACHE_SPACE`` overrides it there).

    Raises:
        RuntimeError: when vLLM is not installed in this environment, or its platform is neither
            a CUDA GPU nor the CPU.
    """

    CPU_KV_CACHE_GB = 1.0

    def __init__(self, model_path: str, options: dict):
        try:
            from vllm import LLM, SamplingParams
            from vllm.platforms import current_platform
        except ImportError as exc:
            raise RuntimeError(f"vllm is not installed in {sys.executable} ({exc}); run scripts/setup-vllm.sh "
                               "(--cpu for a machine without a CUDA GPU)") from exc
        device = current_platform.device_type
        if device not in ("cuda", "cpu"):
            raise RuntimeError(f"the vllm backend runs on a CUDA GPU or the CPU; this vLLM's platform is {device!r}")
        from transformers import AutoTokenizer

        from acdc_core.adapters.backends.dtype import resolve_dtype
        from acdc_core.adapters.backends.hf import format_prompt
        from acdc_core.adapters.backends.vllm_extension import EXTENSION

        self._format, self._sampling = format_prompt, SamplingParams
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        self.use_chat_template = options.get("use_chat_template", True) and bool(self.tokenizer.chat_template)
        self.dtype = resolve_dtype(options.get("dtype", "auto"), device)
        kv_gb = options.get("kv_cache_gb") or (self.CPU_KV_CACHE_GB if device == "cpu" else None)
        self.llm = LLM(model=model_path, dtype=self.dtype, max_num_seqs=options.get("batch_size", 256),
                       gpu_memory_utilization=options.get("gpu_memory_utilization", 0.85),
                       kv_cache_memory_bytes=int(kv_gb * 2**30) if kv_gb else None,
                       tensor_parallel_size=options.get("tensor_parallel_size", 1), seed=0,
                       worker_extension_cls=EXTENSION)
        self.nbytes = checkpoint_nbytes(model_path, self.dtype)

    def generate(self, prompts: list[str], max_new_tokens: int, temperature: float = 0.0, seed: int = 0) -> list[dict]:
        # Token ids as the hf backend makes them: a chat template writes its own BOS, a plain
        # prompt takes the tokenizer's; vLLM then adds nothing.
        ids = []
        for p in prompts:
            text, special = self._format(self.tokenizer, p, self.use_chat_template)
            ids.append({"prompt_token_ids": self.tokenizer(text, add_special_tokens=special).input_ids})
        if temperature:  # a seed per prompt: a prompt repeated in the batch gets independent draws
            params = [self._sampling(temperature=temperature, seed=seed * 1_000_003 + i, max_tokens=max_new_tokens,
                                     skip_special_tokens=True) for i in range(len(ids))]
        else:
            params = self._sampling(temperature=0.0, max_tokens=max_new_tokens, skip_special_tokens=True)
        t0 = time.perf_counter()
        outs = self.llm.generate(ids, params, use_tqdm=False)
        per = (time.perf_counter() - t0) / max(1, len(prompts))
        return [{"text": o.outputs[0].text, "tokens": len(o.outputs[0].token_ids), "seconds": per} for o in outs]

    def load_weights(self, path: str) -> None:
        self.llm.collective_rpc("acdc_swap_weights", kwargs={"weights_path": path})
        self.llm.reset_prefix_cache()

    def close(self) -> None:
        del self.llm


_DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
_SAFETENSORS_BYTES = {"F64": 8, "F32": 4, "BF16": 2, "F16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
                      "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}
_FLOATS = {"F64", "F32", "BF16", "F16"}


def checkpoint_nbytes(folder: str, dtype: str | None = None) -> int:
    """Bytes of the weights in ``folder``'s ``*.safetensors`` files, read from their headers (no
    tensor is loaded): each floating tensor counted at ``dtype`` (the engine's compute dtype;
    ``None``: as stored), any other as stored.  This is what an engine holds for the model's
    weights whatever it does with them afterwards: vLLM's CPU build repacks its linear layers into
    kernel buffers that are no longer parameters, so counting the engine's parameters would see
    the embeddings and norms alone.

    Raises:
        FileNotFoundError: when the folder has no safetensors file.
    """
    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"{folder} holds no .safetensors weights")
    total = 0
    for f in files:
        with open(f, "rb") as fh:
            header = json.loads(fh.read(int.from_bytes(fh.read(8), "little")))
        for name, meta in header.items():
            if name == "__metadata__":
                continue
            numel = 1
            for n in meta["shape"]:
                numel *= n
            per = _DTYPE_BYTES[dtype] if dtype and meta["dtype"] in _FLOATS else _SAFETENSORS_BYTES[meta["dtype"]]
            total += numel * per
    return total


ENGINES = {"hf": HFEngine, "vllm": VLLMEngine}


def serve(engine_name: str, model_path: str, options: dict, rx=sys.stdin, tx=sys.stdout) -> None:
    """Start the engine, then answer requests from ``rx`` on ``tx`` until ``close`` or EOF."""

    def send(obj: dict) -> None:
        tx.write(json.dumps(obj) + "\n")
        tx.flush()

    try:
        engine = ENGINES[engine_name](model_path, options)
    except Exception as exc:  # noqa: BLE001 - reported to the client, which raises it
        traceback.print_exc(file=sys.stderr)
        send({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
        return
    send({"ok": True, "ready": {"nbytes": engine.nbytes, "pid": os.getpid()}})
    for line in rx:
        req = json.loads(line)
        try:
            if req["op"] == "generate":
                send({"ok": True, "generations": engine.generate(req["prompts"], req["max_new_tokens"],
                                                                 req.get("temperature", 0.0), req.get("seed", 0))})
            elif req["op"] == "load_weights":
                engine.load_weights(req["path"])
                send({"ok": True})
            elif req["op"] == "close":
                engine.close()
                send({"ok": True})
                return
            else:
                send({"ok": False, "error": f"unknown op {req['op']!r}"})
        except Exception as exc:  # noqa: BLE001 - one bad request does not end the engine
            traceback.print_exc(file=sys.stderr)
            send({"ok": False, "error": f"{type(exc).__name__}: {exc}"})


def main() -> None:
    engine, model_path, options = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    protocol = os.fdopen(os.dup(1), "w")  # the protocol keeps the real stdout ...
    os.dup2(2, 1)  # ... and whatever the engine prints, from Python or C, goes to stderr
    sys.stdout = sys.stderr
    serve(engine, model_path, options, sys.stdin, protocol)


if __name__ == "__main__":
    main()
