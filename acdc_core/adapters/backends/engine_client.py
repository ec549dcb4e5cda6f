"""The ``vllm`` backend: a model engine in its own process and environment, behind the same
batch protocol as the in-process ``hf`` backend.

:class:`EngineBackend` starts ``engine_worker.py`` with another environment's interpreter (by
default ``.venv-vllm/bin/python``, made by ``scripts/setup-vllm.sh``, with ``--cpu`` for vLLM's CPU
build; ``ACDC_ENGINE_PYTHON`` or ``evaluation.engine_python`` name another), keeps that one engine
for the run, and swaps each candidate's weights into it in place: the state dict goes to a
safetensors folder in shared memory (``/dev/shm``, RAM, not disk) and the engine reloads its
parameters from there without a restart.  The engine runs in a process group of its own, ended
whole when the engine is closed or found dead.  The worker protocol is documented in :mod:`acdc_core.adapters.backends.engine_worker`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from acdc_core.adapters.backends.base import Generation

_WORKER = Path(__file__).with_name("engine_worker.py")
_REPO = Path(__file__).resolve().parents[3]
DEFAULT_PYTHON = _REPO / ".venv-vllm" / "bin" / "python"


class EngineError(RuntimeError):
    """The engine process could not start, failed a request, or died (the message holds the
    end of its stderr)."""


class EngineBackend:
    """A model served by an engine process (see the module docstring).

    Args:
        model_path: HF folder of the model the engine starts with (config, tokenizer, weights).
        engine: ``vllm`` or ``hf`` (the transformers backend in the worker: the protocol's test).
        python: the engine environment's interpreter; default ``$ACDC_ENGINE_PYTHON`` or
            ``.venv-vllm/bin/python``.
        options: engine options (``hf``: those of :class:`~acdc_core.adapters.backends.hf.HFBackend`;
            ``vllm``: ``batch_size``, ``use_chat_template``, ``dtype``, ``gpu_memory_utilization``,
            ``tensor_parallel_size``, ``kv_cache_gb``).

    Attributes:
        nbytes: the engine's parameter memory, bytes, as the worker reports it.

    Raises:
        EngineError: when the interpreter is missing, or the engine does not start (vLLM not
            installed there, a bad model folder): the worker's own message is included.
    """

    def __init__(self, model_path: str, engine: str = "vllm", python: str | None = None, **options):
        python = python or os.environ.get("ACDC_ENGINE_PYTHON") or str(DEFAULT_PYTHON)
        if not Path(python).exists():
            raise EngineError(f"the {engine} engine runs in its own environment, and {python} does not exist: "
                              "run scripts/setup-vllm.sh, or set ACDC_ENGINE_PYTHON / evaluation.engine_python")
        self.template = Path(model_path)
        self._stderr = tempfile.TemporaryFile(mode="w+")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(_REPO), os.environ.get("PYTHONPATH")]))}
        # its own process group: vLLM's engine-core and worker processes, which outlive a killed
        # engine process, are ended with it (see _end_group)
        self._proc = subprocess.Popen(
            [python, str(_WORKER), engine, str(model_path), json.dumps(options)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self._stderr, text=True, env=env, start_new_session=True)
        ready = self._receive()["ready"]
        self.nbytes = int(ready["nbytes"])
        self.pid = int(ready["pid"])

    def generate(self, prompts: list[str], max_new_tokens: int, temperature: float = 0.0,
                 seed: int = 0) -> list[Generation]:
        reply = self._call({"op": "generate", "prompts": prompts, "max_new_tokens": max_new_tokens,
                            "temperature": temperature, "seed": seed})
        return [Generation(g["text"], g["tokens"], g["seconds"]) for g in reply["generations"]]

    def load_weights(self, weights: dict) -> None:
        """Swap ``weights`` (a state dict of the engine's architecture) into the running engine:
        written as a safetensors folder in shared memory, reloaded in place by the engine, then
        deleted.

        Raises:
            EngineError: when the engine refuses them (an unknown name or a shape that differs).
        """
        from acdc_core.adapters.weights import save_weights_folder

        shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
        folder = Path(tempfile.mkdtemp(prefix="acdc-engine-weights-", dir=shm))
        try:  # the engine's loader reads the config beside the weights
            save_weights_folder(weights, self.template, folder)
            self._call({"op": "load_weights", "path": str(folder)})
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        if self._proc.poll() is None:
            try:
                self._call({"op": "close"})
                self._proc.wait(timeout=60)
            except (EngineError, subprocess.TimeoutExpired, BrokenPipeError):
                self._proc.kill()
                self._proc.wait()
        self._end_group()
        self._stderr.close()

    def _end_group(self) -> None:
        """Kill whatever is left of the engine's process group.  vLLM runs the model in child
        processes (``VLLM::EngineCore``, ``VLLM::Worker``) that go on, holding the model and its
        KV cache, when the engine process itself is killed (seen with vLLM 0.32 on the CPU)."""
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def _call(self, request: dict) -> dict:
        try:
            self._proc.stdin.write(json.dumps(request) + "\n")
            self._proc.stdin.flush()
        except BrokenPipeError:
            code = self._proc.wait()
            self._end_group()
            raise EngineError(f"the engine process exited ({code}):\n{self._stderr_tail()}") from None
        return self._receive()

    def _receive(self) -> dict:
        line = self._proc.stdout.readline()
        if not line:
            code = self._proc.wait()
            self._end_group()
            raise EngineError(f"the engine process exited ({code}):\n{self._stderr_tail()}")
        reply = json.loads(line)
        if not reply["ok"]:
            raise EngineError(f"engine: {reply['error']}")
        return reply

    def _stderr_tail(self, chars: int = 3000) -> str:
        self._stderr.seek(0)
        return self._stderr.read()[-chars:]


def VLLMBackend(model_path: str, engine_python: str | None = None, gpu_memory_utilization: float = 0.85,
                tensor_parallel_size: int = 1, batch_size: int = 256, use_chat_template: bool = True,
                dtype: str = "auto", kv_cache_gb: float | None = None, **_cpu_options) -> EngineBackend:
    """The ``vllm`` evaluation backend (``load_backend("vllm", ...)``): an :class:`EngineBackend`
    running vLLM, on a CUDA GPU or (vLLM's CPU build) the CPU, whichever its environment has.
    ``_cpu_options`` (``device``, ``torch_threads``, ``share_prefix``) concern the in-process
    backend and are ignored: vLLM places, threads and caches prefixes itself."""
    return EngineBackend(model_path, engine="vllm", python=engine_python, batch_size=batch_size,
                         use_chat_template=use_chat_template, dtype=dtype, kv_cache_gb=kv_cache_gb,
                         gpu_memory_utilization=gpu_memory_utilization, tensor_parallel_size=tensor_parallel_size)
