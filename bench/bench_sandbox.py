"""What the hardened sandbox costs per family call, next to an earlier revision's, in one run.

    .venv/bin/python bench/bench_sandbox.py [--baseline-rev 6c2be99] [--rounds 3]

The baseline's ``acdc_core/sandbox/{client,runner}.py`` (the folder before ``adapters/``) are read from git at ``--baseline-rev``
(default: the last revision before namespaces, the parent-side checks and the pipe caps) into
a temporary folder and imported from there.  Both sandboxes then load and score the 22 seed
families (``instances`` then ``score`` with the instances' own instructions as submissions),
interleaved round by round so that machine load hits both alike.  Printed: median seconds per
call of each kind, and the ratio.  Nothing is asserted.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from acdc_core.adapters.sandbox import Sandbox
from acdc_core.taskfamily import seed_families

ROOT = Path(__file__).resolve().parents[1]


def baseline_sandbox(rev: str):
    """The ``Sandbox`` class of ``rev``, imported from a temporary copy of its two files."""
    folder = Path(tempfile.mkdtemp(prefix="acdc-bench-sandbox-"))
    for name in ("client.py", "runner.py"):
        text = subprocess.run(["git", "show", f"{rev}:acdc_core/sandbox/{name}"], cwd=ROOT,
                              check=True, capture_output=True, text=True).stdout
        (folder / name).write_text(text)
    spec = importlib.util.spec_from_file_location("baseline_sandbox_client", folder / "client.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module.Sandbox


def time_calls(sandbox, families) -> tuple[list[float], list[float]]:
    """Seconds of each ``instances`` and each ``score`` call over ``families``."""
    load, score = [], []
    for f in families:
        t0 = time.perf_counter()
        inst = sandbox.instances(f.code, 3)
        load.append(time.perf_counter() - t0)
        items = [{"instance_id": k, "task": v["task"], "submission": v["instructions"][:40]} for k, v in inst.items()]
        t0 = time.perf_counter()
        sandbox.score(f.code, items)
        score.append(time.perf_counter() - t0)
    return load, score


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline-rev", default="6c2be99")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    families = seed_families()
    contenders = {f"baseline ({args.baseline_rev})": baseline_sandbox(args.baseline_rev)(), "hardened (now)": Sandbox()}
    times = {name: ([], []) for name in contenders}
    for _ in range(args.rounds):
        for name, sandbox in contenders.items():
            load, score = time_calls(sandbox, families)
            times[name][0].extend(load)
            times[name][1].extend(score)
    print(f"{len(families)} seed families x {args.rounds} rounds; median ms per call (python {sys.version.split()[0]})")
    print(f"{'sandbox':24s} {'instances':>10s} {'score':>8s}")
    med = {name: (statistics.median(lo), statistics.median(sc)) for name, (lo, sc) in times.items()}
    for name, (lo, sc) in med.items():
        print(f"{name:24s} {1000 * lo:10.1f} {1000 * sc:8.1f}")
    (b_lo, b_sc), (h_lo, h_sc) = med.values()
    print(f"{'hardened / baseline':24s} {h_lo / b_lo:9.2f}x {h_sc / b_sc:7.2f}x")


if __name__ == "__main__":
    main()
