"""Benchmarks through lm-evaluation-harness: one model loaded once, its answers per item.

``lm_eval`` is imported here only, lazily, and its GPU engines (``vllm``) only when asked for.
Items come back as rows of the ``benchmark_items`` table (see storage/schema/004_assessment.sql).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from acdc_core.adapters.backends.dtype import resolve_dtype
from acdc_core.assessment.selection import choice_probabilities

LM_EVAL_MODEL = {"hf": "hf", "vllm": "vllm", "openai": "local-completions"}


@dataclass(frozen=True)
class BenchmarkRequest:
    """Items of one benchmark to answer: lm-eval doc indices (positions in the task's data),
    ``kind`` mc, gen or code (a code row is not correct until its tests ran in the sandbox), and
    ``sample``: 0 for greedy, k > 0 for the k-th temperature sample."""

    name: str
    kind: str
    indices: list[int]
    sample: int = 0


class LMEvalModel:
    """A model loaded into lm-eval once and asked for several benchmarks.

    Args:
        path: model folder; an ``openai`` server must serve it under that path (``vllm serve
            <path>``) and the folder's tokenizer scores log-likelihoods locally.
        backend: ``hf`` (CPU or GPU), ``vllm`` (GPU) or ``openai`` (an OpenAI-compatible
            completions endpoint at ``base_url``).
        task_dir: folder of local task configs (``acdc_core.adapters.benchmark_files.write_task``), or None to
            use lm-eval's own tasks of the same names (hub or a local datasets cache).
    """

    def __init__(self, path: str, backend: str = "hf", task_dir: str | Path | None = None, *,
                 batch_size: int = 16, device: str = "cpu", dtype: str = "float32",
                 base_url: str | None = None, max_gen_toks: int = 256, torch_threads: int | None = None):
        from lm_eval.api.registry import get_model
        from lm_eval.tasks import TaskManager

        if torch_threads:
            import torch

            torch.set_num_threads(torch_threads)
        args: dict = {"pretrained": path, "dtype": resolve_dtype(dtype, device)}
        if backend == "openai":  # the server serves the model under its folder path (vLLM's default name)
            args = {"model": path, "base_url": base_url, "tokenizer_backend": "huggingface", "tokenizer": path,
                    "max_gen_toks": max_gen_toks}
        self.lm = get_model(LM_EVAL_MODEL[backend]).create_from_arg_obj(
            args, {"batch_size": batch_size, "device": device}
        )
        self.task_manager = (
            TaskManager(include_path=str(task_dir), include_defaults=False) if task_dir else TaskManager()
        )
        self.local = task_dir is not None

    @property
    def has_chat_template(self) -> bool:
        """Whether the model's tokenizer has a chat template (a base model such as Gemma-3-270M
        has none: its prompts stay plain text)."""
        return bool(getattr(getattr(self.lm, "tokenizer", None), "chat_template", None))

    def answer(self, request: BenchmarkRequest, *, chat_template: bool = False,
               temperature: float | None = None, seed: int = 0) -> list[dict]:
        """Run one benchmark on ``request.indices`` and return one row per item.

        ``chat_template`` applies only where the tokenizer has one.

        Rows: {"benchmark", "doc_id", "sample", "correct", "answer", "confidence",
        "choice_logliks", "response", "prompt", "choices", "target"}.  ``doc_id`` is the item's
        id in the shipped file (local) or lm-eval's index (hub).
        """
        from lm_eval import simple_evaluate

        if not request.indices:
            return []
        gen_kwargs = {"do_sample": True, "temperature": temperature} if temperature else None
        chat_template = chat_template and self.has_chat_template
        out = simple_evaluate(
            model=self.lm, tasks=[request.name], task_manager=self.task_manager,
            samples={request.name: list(request.indices)}, log_samples=True,
            apply_chat_template=chat_template, gen_kwargs=gen_kwargs, bootstrap_iters=0,
            random_seed=seed, numpy_random_seed=seed, torch_random_seed=seed, verbosity="WARNING",
        )
        samples = out["samples"][request.name]
        rows = [self._row(request, s) for s in samples]
        if request.kind != "mc":
            self._add_certainty(rows)
        return rows

    def _row(self, request: BenchmarkRequest, s: dict) -> dict:
        doc = s["doc"]
        doc_id = int(doc["doc_id"]) if self.local else int(s["doc_id"])
        prompt = s["arguments"][0][0] if s["arguments"] else ""
        row = {"benchmark": request.name, "doc_id": doc_id, "sample": request.sample, "prompt": prompt,
               "target": str(s["target"]), "choices": None, "choice_logliks": None, "response": None}
        if request.kind == "mc":
            lls = [float(r[0]) for r in s["filtered_resps"]]
            best = max(range(len(lls)), key=lambda i: lls[i])
            row.update(correct=bool(s["acc"]), answer=str(best), confidence=float(choice_probabilities(lls)[best]),
                       choice_logliks=lls, choices=[a[1].strip() for a in s["arguments"]])
        elif request.kind == "code":  # the program; its tests run in the sandbox (code_tests)
            response = str(s["resps"][0][0])
            row.update(correct=False, answer=doc["code_prefix"] + response.split("```")[0], confidence=None,
                       response=response)
        else:
            row.update(correct=bool(s["exact_match"]), answer=str(s["filtered_resps"][0]).strip(),
                       confidence=None, response=str(s["resps"][0][0]))
        return row

    def _add_certainty(self, rows: list[dict]) -> None:
        """Mean log-prob per token of each generated response under the model (self-certainty);
        left None where the backend cannot score text (an endpoint without echo log-probs)."""
        from lm_eval.api.instance import Instance

        todo = [r for r in rows if r["response"] and r["response"].strip()]
        reqs = [Instance("loglikelihood", doc={}, arguments=(r["prompt"], r["response"]), idx=0) for r in todo]
        try:
            scores = self.lm.loglikelihood(reqs, disable_tqdm=True) if reqs else []
            counts = [len(self.lm.tok_encode(r["response"])) for r in todo]
        except NotImplementedError:
            return
        for r, (ll, _greedy), n in zip(todo, scores, counts):
            r["confidence"] = float(ll) / max(1, n)
