"""Time the expensive steps of a CPU generation on the real SmolLM2-135M, side by side.

    .venv/bin/python bench/bench_cpu_steps.py [--threads 2]

Prints seconds per step and ratios against the default setting, measured in this one run:
batched evaluation at several batch sizes (same 66 prompts, 32 new tokens), our greedy decoding
(finished rows leave the batch) against transformers' ``generate`` on the same batch, SVD vs
Gaussian mutation, and a mergekit linear merge.  Nothing here is asserted: it is for the
closing notes.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from acdc_core.adapters.backends.hf import HFBackend, _len_until_eos, format_prompt
from acdc_core.adapters.evaluation import build_prompts
from acdc_core.adapters.merging import merge_models
from acdc_core.adapters.sandbox import Sandbox
from acdc_core.adapters.seeds import convert_gguf, shipped_gguf
from acdc_core.config import EvaluationSection
from acdc_core.recipes import MergeRecipe, MutationRecipe
from acdc_core.taskfamily import TaskSet, seed_families


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="acdc-bench-"))
    seed = work / "seed"
    t_convert, _ = timed(lambda: convert_gguf(shipped_gguf("smollm2", work), seed, "bfloat16"))
    print(f"GGUF -> safetensors conversion: {t_convert:.1f} s")

    sandbox = Sandbox()
    tasks = TaskSet(families=tuple(f.with_instances(sandbox.instances(f.code, 3)) for f in seed_families()))
    ev = EvaluationSection()
    prompts = [p for _, _, p in build_prompts(tasks, ev.prompt_template)]
    print(f"\nevaluation: {len(prompts)} prompts, {ev.max_new_tokens} new tokens, {args.threads} threads")
    results = {}
    for bs in (96, 32, 16):
        backend = HFBackend(str(seed), batch_size=bs, torch_threads=args.threads)
        dt, gens = timed(lambda: backend.generate(prompts, ev.max_new_tokens))
        results[bs] = dt
        toks = sum(g.tokens for g in gens)
        print(f"  batch {bs:3d}: {dt:6.1f} s  {toks / dt:6.1f} generated tok/s  "
              f"ratio to batch 96: {dt / results[96]:.2f}x")
        backend.close()

    backend = HFBackend(str(seed), batch_size=96, torch_threads=args.threads)
    texts = [format_prompt(backend.tokenizer, p, backend.use_chat_template)[0] for p in prompts]
    enc = backend.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=not backend.use_chat_template)
    with torch.inference_mode():
        t_hf, gen = timed(lambda: backend.model.generate(**enc, max_new_tokens=ev.max_new_tokens, do_sample=False,
                                                         pad_token_id=backend.tokenizer.pad_token_id))
    eos = backend.model.generation_config.eos_token_id
    hf_texts = [backend.tokenizer.decode(r[:_len_until_eos(r, eos)], skip_special_tokens=True)
                for r in gen[:, enc["input_ids"].shape[1]:]]
    t_ours, ours = timed(lambda: backend.generate(prompts, ev.max_new_tokens))
    same = sum(o.text == h for o, h in zip(ours, hf_texts))
    print(f"  one batch of {len(prompts)}: transformers generate {t_hf:.1f} s, ours (finished rows leave the batch) "
          f"{t_ours:.1f} s: {t_hf / t_ours:.2f}x faster; identical answers {same}/{len(prompts)}")
    backend.close()

    print("\nmutation of every 2-D matrix (load, mutate, save):")
    from acdc_core.adapters.weights import mutate_folder

    t_svd, _ = timed(lambda: mutate_folder(seed, work / "svd", MutationRecipe(method="svd", seed=1, noise_std=0.25, top_k=256)))
    t_gauss, _ = timed(lambda: mutate_folder(seed, work / "gauss", MutationRecipe(method="gaussian", seed=1, noise_std=0.001)))
    print(f"  svd top-256: {t_svd:.1f} s   gaussian: {t_gauss:.1f} s   svd/gaussian: {t_svd / t_gauss:.1f}x")

    # the same top-k update through a full LAPACK SVD, the straightforward way (reference only)
    from safetensors.torch import load_file

    from acdc_core.adapters.weights import is_mutable

    def full_svd_update() -> None:
        for name, w in load_file(str(seed / "model.safetensors")).items():
            if is_mutable(name, w):
                u, s, vh = torch.linalg.svd(w.float(), full_matrices=False)
                k = min(256, len(s))
                delta = torch.clamp(s[:k] + torch.randn(k) * 0.25, min=0) - s[:k]
                _ = w.float() + (u[:, :k] * delta) @ vh[:k]

    t_full, _ = timed(full_svd_update)
    print(f"  svd via Gram eigh (ours): {t_svd:.1f} s   via full torch.linalg.svd, no save: {t_full:.1f} s   "
          f"speed-up: {t_full / t_svd:.1f}x")

    paths = {"a": str(work / "svd"), "b": str(work / "gauss")}
    t_merge, _ = timed(lambda: merge_models(MergeRecipe(method="linear", parents=("a", "b"), weights=(0.5, 0.5)),
                                            paths, work / "merged", "bfloat16"))
    print(f"  mergekit linear merge of two: {t_merge:.1f} s")


if __name__ == "__main__":
    main()
