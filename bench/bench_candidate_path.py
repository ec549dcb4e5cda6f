"""A child's path from recipe to answers: in memory (what a run does) against the old
write-and-reload path, side by side on the shipped SmolLM2-135M-Instruct.

    .venv/bin/python bench/bench_candidate_path.py [--children 4] [--prompts 8] [--tokens 32] [--threads 2]

Parents: the converted seed model and a Gaussian mutant of it (made once, untimed), as two
archive members.  ``--children`` recipes are drawn with the default preset's crossover and
mutation (linear merge + SVD mutation of the top 256 singular values).  Each child goes both ways:

- ``write-reload``: mergekit ``run_merge`` into a folder, ``mutate_folder`` reads it and writes a
  second one, ``content_hash`` reads that, and a fresh ``HFBackend`` loads it;
- ``in-memory``: the parents' safetensors read, mergekit ``merge_state_dicts``, the in-memory
  mutation, ``tensor_hash``, and the weights copied into one backend loaded once (its load is
  counted once, in the first child).

Then the same ``--prompts`` instructions are answered, greedily, for ``--tokens`` tokens.  Printed:
seconds per child for making + loading and for answering, the ratios, and whether the two paths
gave the same model id and the same answers.  Nothing is asserted.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from acdc_core.adapters.backends.hf import HFBackend
from acdc_core.adapters.candidates import build_weights
from acdc_core.adapters.merging import merge_models
from acdc_core.adapters.weights import content_hash, load_weights, mutate_folder, tensor_hash
from acdc_core.config import parse_config
from acdc_core.expert_data import generate
from acdc_core.recipes import MutationRecipe, propose_children
from acdc_core.rng import rng_stream
from tasks.shipped import shipped_seed_folder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--children", type=int, default=4)
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = parse_config({})
    dtype = cfg.models.storage_dtype
    work = Path(tempfile.mkdtemp(prefix="acdc-bench-candidate-"))
    try:
        seed = Path(shipped_seed_folder("smollm2", dtype, logging.getLogger("bench")))
        mutate_folder(seed, work / "b", MutationRecipe(method="gaussian", seed=1, noise_std=0.01))
        folders = {"a": seed, "b": work / "b"}
        recipes = propose_children(["a", "b"], args.children, 1, cfg.crossover, cfg.mutation, None,
                                   rng_stream(0, 1, "breeding"))
        prompts = [i.instructions for i in generate("math", args.prompts, seed=0)]
        opts = {"batch_size": args.prompts, "torch_threads": args.threads}
        old_make, new_make, old_ans, new_ans, same_id, same_text = [], [], [], [], [], []
        resident = None
        for r in recipes:
            t0 = time.perf_counter()
            out = work / f"child{r.index}"
            merge_models(r.merge, {k: str(v) for k, v in folders.items()}, out / "merged", dtype)
            mutate_folder(out / "merged", out / "mutated", r.mutation)
            old_id = content_hash(out / "mutated")
            fresh = HFBackend(str(out / "mutated"), **opts)
            t1 = time.perf_counter()
            old_text = [g.text for g in fresh.generate(prompts, args.tokens)]
            t2 = time.perf_counter()
            fresh.close()
            shutil.rmtree(out)
            old_make.append(t1 - t0)
            old_ans.append(t2 - t1)

            t0 = time.perf_counter()
            weights = build_weights(r, lambda m: load_weights(folders[m]), dtype)
            new_id = tensor_hash(weights)
            resident = resident or HFBackend(str(seed), **opts)
            resident.load_weights(weights)
            t1 = time.perf_counter()
            new_text = [g.text for g in resident.generate(prompts, args.tokens)]
            t2 = time.perf_counter()
            new_make.append(t1 - t0)
            new_ans.append(t2 - t1)
            same_id.append(old_id == new_id)
            same_text.append(old_text == new_text)
            print(f"child {r.index} ({r.operator}): write-reload make+load {old_make[-1]:.2f} s, in-memory "
                  f"{new_make[-1]:.2f} s; answers {old_ans[-1]:.2f} s / {new_ans[-1]:.2f} s; same id {same_id[-1]}, "
                  f"same answers {same_text[-1]}", flush=True)
        resident.close()
        mo, mn, ao, an = (float(np.mean(x)) for x in (old_make, new_make, old_ans, new_ans))
        print(f"\nper child, mean of {len(recipes)} ({args.threads} threads, {args.prompts} prompts x {args.tokens} tokens):")
        print(f"  make + load:   write-reload {mo:.2f} s, in-memory {mn:.2f} s  -> {mo / mn:.2f}x")
        print(f"  answering:     write-reload {ao:.2f} s, in-memory {an:.2f} s")
        print(f"  whole child:   write-reload {mo + ao:.2f} s, in-memory {mn + an:.2f} s  -> {(mo + ao) / (mn + an):.2f}x")
        print(f"  same model id: {all(same_id)}; same answers: {all(same_text)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
