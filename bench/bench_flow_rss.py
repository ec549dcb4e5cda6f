"""Peak memory of the flow process against children per generation: does the flow hold the
children's weights?

    .venv/bin/python bench/bench_flow_rss.py [--checkout DIR ...] [--children 2 4 8] [--out DIR]

A pico family with wider layers (hidden 512, 4 layers: 52 MB of float32 weights per model), so
that one child's weights stand out against the process's own memory.  For each checkout (default:
this one; give an older one to compare, its code run with ``PYTHONPATH`` set to it) and each
``--children`` N, a fresh ``acdc run`` of generation 0 (N mutants) and generation 1 (N children)
with the default, in-process runner: the flow process's peak resident memory (``VmHWM``, polled
from ``/proc``) and the seconds.  Printed: one row per (checkout, N), then per checkout the slope
of the peak in MB per child (least squares) and the slope over one child's weight bytes (1.0: the
process holds every child of a generation; 0: flat).  Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "tests" / "helpers"),
                str(Path(__file__).resolve().parents[1] / "tests")]
from helpers.runs import acdc_env, status_mb, three_seed_config, watch  # noqa: E402
from pico import build_family  # noqa: E402

SHAPE = {"hidden_size": 512, "intermediate_size": 1536, "num_hidden_layers": 4, "num_attention_heads": 8,
         "num_key_value_heads": 4}


def peak_rss_mb(checkout: Path, config: Path, run_dir: Path, home: Path) -> tuple[float, float]:
    """(peak RSS of the ``acdc run`` process in MB, seconds) for ``config`` run with ``checkout``'s code.

    Raises:
        SystemExit: the run failed (its log's tail).
    """
    env = dict(acdc_env(home), PYTHONPATH=str(checkout))
    log = run_dir.parent / f"{run_dir.name}.log"
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "run", "--config", str(config),
                                 "--run-dir", str(run_dir)], cwd=checkout, env=env, stdout=fh, stderr=subprocess.STDOUT)
        peaks = watch(proc, lambda status: status_mb(status, "VmHWM"))
    if proc.returncode:
        raise SystemExit(f"{checkout}: the run failed:\n{log.read_text()[-3000:]}")
    return max(peaks, default=float("nan")), time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkout", type=Path, nargs="+", default=[Path(__file__).resolve().parents[1]])
    p.add_argument("--children", type=int, nargs="+", default=[2, 4, 8])
    p.add_argument("--out", type=Path, default=Path("/tmp/bench-flow-rss"))
    a = p.parse_args()
    fam = build_family(a.out / "family", **SHAPE)
    child_mb = sum(f.stat().st_size for f in fam["base"].glob("*.safetensors")) / 2**20
    print(f"one model's weights: {child_mb:.1f} MB (float32)")
    print(f"{'checkout':40s} {'children':>8s} {'peak RSS MB':>12s} {'seconds':>8s}")
    slopes = {}
    for checkout in a.checkout:
        checkout = checkout.resolve()
        peaks = []
        for n in a.children:
            cfg = three_seed_config(fam, generations=1, children=n)
            out = a.out / f"{checkout.name}-{n}"
            out.mkdir(parents=True, exist_ok=True)
            (out / "config.yaml").write_text(yaml.safe_dump(cfg))
            mb, secs = peak_rss_mb(checkout, out / "config.yaml", out / f"run-{os.getpid()}", out)
            peaks.append(mb)
            print(f"{str(checkout):40s} {n:8d} {mb:12.0f} {secs:8.1f}", flush=True)
        slopes[checkout] = float(np.polyfit(a.children, peaks, 1)[0]) if len(peaks) > 1 else float("nan")
    for checkout, slope in slopes.items():
        print(f"{str(checkout):40s} slope {slope:6.1f} MB per child = {slope / child_mb:.2f} x one child's weights")


if __name__ == "__main__":
    main()
