"""The ``vllm`` backend on the CPU (vLLM's CPU build, ``scripts/setup-vllm.sh --cpu``) with the real
SmolLM2-135M-Instruct seed: engine start, greedy tokens/s beside the ``hf`` backend, in-place swaps
into two children (a fine-tuned expert, and the seed with new embeddings, which its tied output
layer must follow), and greedy agreement with ``hf`` before and after each swap.

    python bench/bench_vllm_cpu.py --dtype float32 --out bench/results/cpu_vllm_engine.json

Needs the run's environment (the ``hf`` side, the converted seed in ~/.cache/acdc from a first
``acdc run``) and ``.venv-vllm`` (or ``--engine-python``).  Prints one line per measurement and
writes them all as JSON to ``--out`` (appending to a list there, one entry per call).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from acdc_core.adapters.backends.engine_client import EngineBackend  # noqa: E402
from acdc_core.adapters.backends.hf import HFBackend  # noqa: E402
from acdc_core.adapters.weights import load_weights  # noqa: E402
from tasks.shipped import (
    cache_dir,  # noqa: E402
    shipped_seed_folder,  # noqa: E402
)

PROMPTS = ["What is 17 plus 25? Answer with the number only.", "Reverse the word 'planet'.",
           "Is 38 even or odd? Answer 'even' or 'odd'.", "Write the word 'garden' in upper case.",
           "How many vowels are in the word 'banana'?", "Sort these numbers: 9, 2, 5.",
           "What is 6 times 7?", "Name the capital of France."]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--engine-python", default=None)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    seed = shipped_seed_folder("smollm2", "bfloat16", logging.getLogger("bench"))
    experts = sorted((cache_dir() / "experts").glob("math-*"))
    base = load_weights(seed)
    g = torch.Generator().manual_seed(0)
    new_embed = dict(base)
    emb = base["model.embed_tokens.weight"]
    new_embed["model.embed_tokens.weight"] = emb + torch.randn(emb.shape, generator=g).to(emb.dtype) * emb.std() * 0.5
    children = {"new_embeddings": new_embed}
    if experts:
        children["math_expert"] = load_weights(experts[0])
    result: dict = {"dtype": args.dtype, "tokens": args.tokens, "prompts": len(PROMPTS), "when": time.strftime("%F %T")}

    t0 = time.perf_counter()
    engine = EngineBackend(seed, engine="vllm", python=args.engine_python, dtype=args.dtype, batch_size=len(PROMPTS))
    result["engine_start_s"] = round(time.perf_counter() - t0, 1)
    hf = HFBackend(seed, device="cpu", dtype=args.dtype, batch_size=len(PROMPTS), torch_threads=2)
    print(f"engine start {result['engine_start_s']} s, nbytes {engine.nbytes}", flush=True)

    def answers(backend) -> tuple[list[str], float]:
        backend.generate(PROMPTS[:2], 4)  # warm
        t = time.perf_counter()
        gens = backend.generate(PROMPTS, args.tokens)
        return [x.text for x in gens], sum(x.tokens for x in gens) / (time.perf_counter() - t)

    try:
        for name, weights in [("seed", None), *children.items()]:
            if weights is not None:
                t = time.perf_counter()
                engine.load_weights(weights)
                result[f"swap_{name}_s"] = round(time.perf_counter() - t, 2)
                hf.load_weights(weights)
            ours, tps = answers(engine)
            theirs, hf_tps = answers(hf)
            agree = sum(a == b for a, b in zip(ours, theirs))
            result[f"{name}_vllm_tok_s"], result[f"{name}_hf_tok_s"] = round(tps, 1), round(hf_tps, 1)
            result[f"{name}_agree"] = f"{agree}/{len(PROMPTS)}"
            print(f"{name}: vllm {tps:.1f} tok/s, hf {hf_tps:.1f} tok/s, {agree}/{len(PROMPTS)} answers equal"
                  + (f", swap {result[f'swap_{name}_s']} s" if weights is not None else ""), flush=True)
    finally:
        engine.close()
    if args.out:
        out = Path(args.out)
        runs = json.loads(out.read_text()) if out.exists() else []
        out.write_text(json.dumps([*runs, result], indent=1) + "\n")


if __name__ == "__main__":
    main()
