"""SVD mutation of a whole model: the run's Gram-eigh method and a randomized low-rank SVD
against the exact SVD, in time and in error.

    .venv/bin/python bench/bench_svd_mutation.py [--model DIR] [--top-k 256] [--noise 0.25] [--threads 2]

For every matrix the run mutates (``is_mutable``: 2-D, not norms or biases) of the model in
``--model`` (default: the converted SmolLM2-135M-Instruct in the machine cache), each method
computes the update U_k diag(delta) V_k^T that ALGORITHM.md step 3 adds, with the same noise
draw delta on the top-k singular values:

- ``exact``: ``torch.linalg.svd`` (reduced);
- ``gram-eigh``: what ``acdc_core.adapters.weights`` does (eigendecomposition of the smaller
  Gram matrix);
- ``randomized``: ``torch.svd_lowrank`` with q = k + 10 and 2 power iterations.

Printed per method: seconds for the whole model (float32, ``--threads`` threads), and the
relative Frobenius error of its update against the exact one, median and worst over matrices.
Nothing is asserted.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from acdc_core.adapters.weights import is_mutable, svd_update
from tasks.shipped import cache_dir


def exact_delta(x: torch.Tensor, k: int, noise: torch.Tensor) -> torch.Tensor:
    u, s, vh = torch.linalg.svd(x, full_matrices=False)
    return _update(u, s, vh, k, noise)


def randomized_delta(x: torch.Tensor, k: int, noise: torch.Tensor) -> torch.Tensor:
    q = min(k + 10, *x.shape)
    u, s, v = torch.svd_lowrank(x, q=q, niter=2)
    return _update(u, s, v.T, k, noise)


def _update(u: torch.Tensor, s: torch.Tensor, vh: torch.Tensor, k: int, noise: torch.Tensor) -> torch.Tensor:
    """The update from an SVD, with the run's rule: singular values below 1e-6 * s_max stay."""
    k = min(k, len(s))
    delta = torch.clamp(s[:k] + noise[:k], min=0.0) - s[:k]
    delta = torch.where(s[:k] > s[0] * 1e-6, delta, torch.zeros_like(delta))
    return (u[:, :k] * delta) @ vh[:k]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="a model folder (default: the cached converted SmolLM2)")
    ap.add_argument("--top-k", type=int, default=256)
    ap.add_argument("--noise", type=float, default=0.25, help="std of the singular-value noise")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    folder = Path(args.model) if args.model else cache_dir() / "seeds" / "smollm2-bfloat16"
    tensors = {n: t.to(torch.float32) for f in sorted(folder.glob("*.safetensors"))
               for n, t in load_file(str(f)).items() if is_mutable(n, t)}
    shapes = sorted({tuple(t.shape) for t in tensors.values()})
    print(f"{folder}: {len(tensors)} mutable matrices, shapes {shapes}; top_k {args.top_k}, noise {args.noise}")

    g = torch.Generator().manual_seed(0)
    noises = {n: torch.randn(min(args.top_k, *t.shape), generator=g) * args.noise for n, t in tensors.items()}

    methods = {"exact": exact_delta, "gram-eigh": lambda x, k, noise: svd_update(x, noise),
               "randomized": randomized_delta}
    results: dict[str, dict[str, torch.Tensor]] = {}
    seconds: dict[str, float] = {}
    for name, fn in methods.items():
        t0 = time.perf_counter()
        results[name] = {n: fn(x, args.top_k, noises[n]) for n, x in tensors.items()}
        seconds[name] = time.perf_counter() - t0
    print(f"\n{'method':12s} {'seconds':>8s} {'vs exact':>9s} {'median rel. error':>18s} {'worst':>10s}  worst matrix")
    for name in methods:
        errs = {n: float((results[name][n] - results["exact"][n]).norm() / results["exact"][n].norm().clamp(min=1e-12))
                for n in tensors}
        worst = max(errs, key=errs.get)
        print(f"{name:12s} {seconds[name]:8.2f} {seconds['exact'] / seconds[name]:8.2f}x "
              f"{np.median(list(errs.values())):18.2e} {errs[worst]:10.2e}  {worst} {tuple(tensors[worst].shape)}")


if __name__ == "__main__":
    main()
