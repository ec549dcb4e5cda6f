"""What the hardened sandbox costs per family call, next to earlier revisions', in one run.

    .venv/bin/python bench/bench_sandbox.py [--baseline-rev 6c2be99 --baseline-rev b8da4c3 --baseline-rev b1a147b] [--rounds 3]

Each baseline's ``client.py`` and ``runner.py`` (under ``acdc_core/adapters/sandbox/``, or
``acdc_core/sandbox/`` before ``adapters/``) are read from git at ``--baseline-rev`` into a
temporary folder and imported from there.  Defaults: 6c2be99, the last revision before
namespaces, the parent-side checks and the pipe caps; b8da4c3, the first round of hardening
(namespaces, the process-group kill), before issue 30 (pidfd and per-call cgroup kill, whole-call
CPU and memory checks, the stdin writer thread, an IPC namespace); b1a147b, issue 30's second
round, before the minimal root and the call's own keyrings.  Every sandbox then loads and
scores the 22 seed families (``instances`` then ``score`` with the instances' own instructions as
submissions), interleaved round by round so that machine load hits all alike.  Printed: median
milliseconds per call of each kind, and the ratio of the current sandbox to each baseline.
Nothing is asserted.
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

from acdc_core.adapters.sandbox import Sandbox, control
from acdc_core.adapters.sandbox.client import isolation_features
from acdc_core.taskfamily import seed_families

ROOT = Path(__file__).resolve().parents[1]


def baseline_sandbox(rev: str):
    """The ``Sandbox`` class of ``rev``, imported from a temporary copy of its two files."""
    folder = Path(tempfile.mkdtemp(prefix="acdc-bench-sandbox-"))
    for name in ("client.py", "runner.py"):
        for where in ("acdc_core/adapters/sandbox", "acdc_core/sandbox"):
            shown = subprocess.run(["git", "show", f"{rev}:{where}/{name}"], cwd=ROOT, capture_output=True, text=True)
            if shown.returncode == 0:
                break
        else:
            raise SystemExit(f"no sandbox {name} at revision {rev}")
        (folder / name).write_text(shown.stdout)
    spec = importlib.util.spec_from_file_location(f"baseline_sandbox_client_{rev}", folder / "client.py")
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
    ap.add_argument("--baseline-rev", action="append", help="repeatable; default: 6c2be99, b8da4c3 and b1a147b")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    revs = args.baseline_rev or ["6c2be99", "b8da4c3", "b1a147b"]
    families = seed_families()
    contenders = {f"baseline ({rev})": baseline_sandbox(rev)() for rev in revs}
    contenders["hardened (now)"] = Sandbox()
    times = {name: ([], []) for name in contenders}
    for _ in range(args.rounds):
        for name, sandbox in contenders.items():
            load, score = time_calls(sandbox, families)
            times[name][0].extend(load)
            times[name][1].extend(score)
    print(f"{len(families)} seed families x {args.rounds} rounds; median ms per call (python {sys.version.split()[0]}; "
          f"call cgroup: {control.cgroup_base() or 'none'}; now: {isolation_features() or 'not isolated'})")
    print(f"{'sandbox':24s} {'instances':>10s} {'score':>8s}")
    med = {name: (statistics.median(lo), statistics.median(sc)) for name, (lo, sc) in times.items()}
    for name, (lo, sc) in med.items():
        print(f"{name:24s} {1000 * lo:10.1f} {1000 * sc:8.1f}")
    h_lo, h_sc = med["hardened (now)"]
    for rev in revs:
        b_lo, b_sc = med[f"baseline ({rev})"]
        print(f"{'now / ' + rev:24s} {h_lo / b_lo:9.2f}x {h_sc / b_sc:7.2f}x")


if __name__ == "__main__":
    main()
