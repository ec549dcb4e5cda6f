"""Generation throughput of the evaluation backend against the CPU's measured matmul peak: float32
without and with the shared-prefix prefill, and the run's ``evaluation.dtype: auto`` (bfloat16 on a
CPU with native bf16 dot products), side by side on the shipped SmolLM2-135M-Instruct.

    .venv/bin/python bench/bench_generation.py [--threads 2] [--tokens 32] [--repeats 2]

The prompts are a default generation's: the 22 seed families x 3 instances through the default
prompt template and the chat template (66 prompts, one batch of 96).  Measured, each the best of
``--repeats``:

- the matmul peak: (2048 x 2048) @ (2048 x 2048) on ``--threads`` threads, GFLOP/s, in float32
  and in each other dtype compared;
- prefill: ``generate`` with 1 new token; the whole answer: ``--tokens`` new tokens (decoding =
  the difference, and its rate: the generated tokens over the decoding seconds);
- model FLOPs per token: 2 x the parameters of every linear layer (the language-model head only
  for the positions whose logits are computed), attention scores left out; the prefill counts
  each prompt's own tokens (what a padding- and prefix-free engine would compute).

Printed: seconds, generated tokens/s, processed tokens/s, achieved GFLOP/s and its share of the
float32 peak and of the setting's own dtype peak, each setting's speed-up over the first, and how
many answers are identical to the first's.  Nothing is asserted.
"""

from __future__ import annotations

import argparse
import logging
import time

import torch

from acdc_core.adapters.backends.dtype import resolve_dtype
from acdc_core.adapters.backends.hf import HFBackend, format_prompt
from acdc_core.adapters.evaluation import build_prompts
from acdc_core.adapters.sandbox import Sandbox
from acdc_core.config import EvaluationSection
from acdc_core.taskfamily import TaskSet, seed_families
from tasks.shipped import shipped_seed_folder


def best_of(n: int, fn):
    best, out = float("inf"), None
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def matmul_peak(threads: int, dtype: str = "float32", size: int = 2048, reps: int = 10) -> float:
    """GFLOP/s of square matmuls in ``dtype`` on ``threads`` threads."""
    torch.set_num_threads(threads)
    a, b = (torch.randn(size, size, dtype=getattr(torch, dtype)) for _ in range(2))
    a @ b  # warm up
    dt, _ = best_of(3, lambda: [a @ b for _ in range(reps)])
    return 2 * size**3 * reps / dt / 1e9


def linear_params(model: torch.nn.Module) -> tuple[int, int]:
    """(parameters of the linear layers but the head, parameters of the head)."""
    head = model.get_output_embeddings().weight.numel()
    body = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear)) - head
    return body, head


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    auto = resolve_dtype("auto", "cpu")
    peaks = {d: matmul_peak(args.threads, d) for d in dict.fromkeys(["float32", auto])}
    print("matmul peak: " + ", ".join(f"{v:.0f} GFLOP/s ({d})" for d, v in peaks.items()) + f", {args.threads} threads")
    seed = shipped_seed_folder("smollm2", "bfloat16", logging.getLogger("bench"))
    sandbox = Sandbox()
    tasks = TaskSet(families=tuple(f.with_instances(sandbox.instances(f.code, 3)) for f in seed_families()))
    ev = EvaluationSection()
    prompts = [p for _, _, p in build_prompts(tasks, ev.prompt_template)]
    results = {}
    for dtype, share in (("float32", False), ("float32", True), (auto, True)):
        name = f"{dtype}, shared prefix {'on' if share else 'off'}"
        b = HFBackend(seed, batch_size=96, torch_threads=args.threads, share_prefix=share, dtype=dtype)
        body, head = linear_params(b.model)
        lengths = [len(b.tokenizer(format_prompt(b.tokenizer, p)[0], add_special_tokens=False).input_ids)
                   for p in prompts]
        t_pre, _ = best_of(args.repeats, lambda: b.generate(prompts, 1))
        t_all, gens = best_of(args.repeats, lambda: b.generate(prompts, args.tokens))
        b.close()
        generated = sum(g.tokens for g in gens)
        gflops = (2 * body * (sum(lengths) + generated) + 2 * head * generated) / t_all / 1e9
        results[name] = (t_all, [g.text for g in gens])
        print(f"\n{name}: {len(prompts)} prompts ({sum(lengths)} prompt tokens, longest {max(lengths)}), "
              f"{generated} generated tokens")
        print(f"  prefill {t_pre:.2f} s, decoding {t_all - t_pre:.2f} s ({generated / (t_all - t_pre):.0f} generated "
              f"tok/s), whole {t_all:.2f} s")
        print(f"  {generated / t_all:.0f} generated tok/s, {(sum(lengths) + generated) / t_all:.0f} processed tok/s, "
              f"{gflops:.1f} GFLOP/s = {100 * gflops / peaks['float32']:.0f}% of the float32 matmul peak, "
              f"{100 * gflops / peaks[dtype]:.0f}% of the {dtype} peak")
    (first, (t0, texts0)), *rest = results.items()
    for name, (t, texts) in rest:
        print(f"\n{name} against {first}: {t0 / t:.2f}x faster; identical answers "
              f"{sum(x == y for x, y in zip(texts0, texts))}/{len(texts0)}")


if __name__ == "__main__":
    main()
