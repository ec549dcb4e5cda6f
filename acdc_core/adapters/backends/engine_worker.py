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
stdout carries the protocol alone.  Engines: ``vllm`` (greedy ``SamplingParams``, the prompts
tokenised exactly as the ``hf`` backend tokenises them) and ``hf`` (the transformers backend, for
CPU tests of the protocol and for an engine environment without vLLM).
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback


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
    """One resident vLLM engine (``vllm.LLM``); a candidate's weights are reloaded into it in place
    through the workers' ``reload_weights`` (``LLM.collective_rpc``), and the prefix cache, which
    holds KV blocks computed with the old weights, is dropped after each swap.

    Options: those of the ``hf`` backend (``batch_size`` becomes vLLM's ``max_num_seqs``;
    ``use_chat_template``, ``dtype``) plus ``gpu_memory_utilization`` and
    ``tensor_parallel_size``.

    Raises:
        RuntimeError: when vLLM is not installed in this environment or no CUDA GPU is visible.
    """

    def __init__(self, model_path: str, options: dict):
        try:
            import torch
            from vllm import LLM, SamplingParams
        except ImportError as exc:
            raise RuntimeError(f"vllm is not installed in {sys.executable} ({exc}); run scripts/setup-vllm.sh") from exc
        if not torch.cuda.is_available():
            raise RuntimeError("the vllm backend needs a CUDA GPU, and none is visible to this process")
        from transformers import AutoTokenizer

        from acdc_core.adapters.backends.dtype import resolve_dtype
        from acdc_core.adapters.backends.hf import format_prompt

        self._format, self._sampling = format_prompt, SamplingParams
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        self.use_chat_template = options.get("use_chat_template", True) and bool(self.tokenizer.chat_template)
        dtype = resolve_dtype(options.get("dtype", "auto"), "cuda")
        self.llm = LLM(model=model_path, dtype=dtype, max_num_seqs=options.get("batch_size", 256),
                       gpu_memory_utilization=options.get("gpu_memory_utilization", 0.85),
                       tensor_parallel_size=options.get("tensor_parallel_size", 1), seed=0)
        self.nbytes = sum(self.llm.apply_model(lambda m: sum(p.numel() * p.element_size() for p in m.parameters())))

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
        self.llm.collective_rpc("reload_weights", kwargs={"weights_path": path})
        self.llm.reset_prefix_cache()

    def close(self) -> None:
        del self.llm


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
