"""The same short SmolLM2 run under each task runner, side by side.

    .venv/bin/python bench/bench_task_runner.py [--generations 2] [--out /tmp/acdc-bench-runner]

Arms (each a fresh ``acdc run`` process on the embedded default with no experts, so nothing is
fine-tuned: the shipped model and its mutants seed the run):

- ``default``: Prefect's default runner, every model step in the flow process, 2 torch threads;
- ``dask-2``: a local Dask cluster of 2 worker processes on loopback, 1 torch thread each.

Printed: each generation's seconds per arm (from the run's ``generations`` table), the ratio to
``default``, and whether the archives are identical (they are when the arms compute in the
same dtype and thread count; float32 sums on 1 and 2 threads may differ in the last bit).
Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import yaml

ROOT = Path(__file__).resolve().parents[1]
ARMS = {
    "default": {"runner": {"kind": "default"}, "evaluation": {"torch_threads": 2}},
    "dask-2": {"runner": {"kind": "dask", "workers": 2}, "evaluation": {"torch_threads": 1}},
}


def config(generations: int, arm: dict) -> dict:
    preset = yaml.safe_load((ROOT / "acdc_core" / "presets" / "default.yaml").read_text())
    preset["run"].update(name="bench-runner", generations=generations)
    preset["models"]["experts"] = []
    preset["adaptation"]["every"] = 0
    for section, values in arm.items():
        preset.setdefault(section, {}).update(values)
    return preset


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--generations", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("/tmp/acdc-bench-runner"))
    a = ap.parse_args()
    shutil.rmtree(a.out, ignore_errors=True)
    a.out.mkdir(parents=True)
    env = {**os.environ, "PREFECT_HOME": str(a.out / "prefect"), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    seconds, archives, walls = {}, {}, {}
    for name, arm in ARMS.items():
        cfg = a.out / f"{name}.yaml"
        cfg.write_text(yaml.safe_dump(config(a.generations, arm)))
        run_dir = a.out / name
        t0 = time.perf_counter()
        res = subprocess.run([sys.executable, "-m", "flows.cli", "run", "--config", str(cfg), "--run-dir",
                              str(run_dir)], env=env, cwd=ROOT, capture_output=True, text=True)
        walls[name] = time.perf_counter() - t0
        if res.returncode:
            sys.exit(f"{name} failed:\n{res.stdout[-3000:]}{res.stderr[-3000:]}")
        con = duckdb.connect(str(run_dir / "acdc.duckdb"), read_only=True)
        seconds[name] = dict(con.execute("SELECT generation, seconds FROM generations ORDER BY 1").fetchall())
        archives[name] = con.execute("SELECT generation, model_id FROM archive ORDER BY ALL").fetchall()
        con.close()
        print(f"{name}: {walls[name]:.0f} s wall", flush=True)
    print(f"\n{'generation':>10} " + " ".join(f"{n:>10}" for n in ARMS) + "  ratio (default / other)")
    for g in seconds["default"]:
        row = [seconds[n][g] for n in ARMS]
        print(f"{g:>10} " + " ".join(f"{s:>9.1f}s" for s in row) + "  "
              + " ".join(f"{row[0] / s:.2f}x" for s in row[1:]))
    print(f"{'wall':>10} " + " ".join(f"{walls[n]:>9.1f}s" for n in ARMS) + "  "
          + " ".join(f"{walls['default'] / walls[n]:.2f}x" for n in list(ARMS)[1:]))
    same = all(archives[n] == archives["default"] for n in ARMS)
    print(f"\narchives identical across arms: {same}")


if __name__ == "__main__":
    main()
