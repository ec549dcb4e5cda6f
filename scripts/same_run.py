"""Does a change alter any decision?  Run the same config with two checkouts and compare every
table of the two run databases row for row.

    .venv/bin/python scripts/same_run.py --before /path/to/old/checkout --after . --out /tmp/same
    .venv/bin/python scripts/same_run.py --before OLD --after . --preset default --generations 10 --out DIR \
        --parallel --threads 1 --cache ~/.cache/acdc

``--preset pico`` (the default) is the tests' pico family (a base and two experts, six task
families, archive 4, 3 children, the template scientist every 5th generation, held-out instances
and the noise floor on); ``--preset default`` is the embedded default preset of the ``--before``
checkout (``acdc_core/presets/default.yaml``, hours on 2 cores); ``--config FILE`` is any config.
Either way ``run.generations`` is ``--generations``.
Each checkout runs ``python -m flows.cli run`` from its own folder (with ``PYTHONPATH`` set to it) in
a Prefect home of its own; a finished run resumes to "nothing to do", so a comparison can be rerun.  Clocks (``seconds``, ``*_at`` columns, the
resident pool's load counts), the run id and the checkouts' and run folders' paths are left out of
the comparison; everything else must match.  Exit status 0: every table identical.

``--parallel`` runs the two sides at once (give each ``--threads 1`` on 2 cores: the torch threads
of evaluation, the same on both sides); ``--cache DIR`` copies a user cache (the converted shipped
model, the fine-tuned seed experts) into both sides first, so both start from the same seed
weights and neither fine-tunes them again.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers.runs import three_seed_config  # noqa: E402

CLOCK_METRICS = ("seconds", "archive_model_loads", "archive_model_reuses")


def pico_config(checkout: Path, out: Path, generations: int) -> dict:
    """The pico run of :func:`helpers.runs.three_seed_config`, its models built with ``checkout``'s
    test helpers (where they lie in either layout)."""
    sys.path[:0] = [str(checkout / "tests" / "helpers"), str(checkout / "tests")]
    from pico import build_family

    cfg = three_seed_config(build_family(out / "pico"), generations)
    cfg["tasks"]["extra_dirs"] = [str(out / "families")]
    return cfg


def side_config(a: argparse.Namespace, checkout: Path, out: Path) -> dict:
    """The config one side runs: ``--config``, the ``--before`` checkout's default preset, or the
    pico run (its families copied into ``out``), with ``--generations`` generations."""
    if a.config or a.preset == "default":
        cfg = yaml.safe_load((a.config or a.before.resolve() / "acdc_core" / "presets" / "default.yaml").read_text())
        cfg.setdefault("run", {})["generations"] = a.generations
        return cfg
    families = out / "families"
    families.mkdir(exist_ok=True)
    for f in (checkout / "tests" / "data" / "families").glob("*.py"):
        (families / f.name).write_text(f.read_text())
    return pico_config(checkout, out, a.generations)


def start(checkout: Path, config: Path, out: Path) -> subprocess.Popen:
    """Starts ``acdc run`` of ``config`` with the code in ``checkout``, logging to ``out/run.log``."""
    env = dict(os.environ, PYTHONPATH=str(checkout), PREFECT_HOME=str(out / "prefect"),
               ACDC_CACHE_DIR=str(out / "cache"), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    env.pop("PREFECT_API_URL", None)
    with open(out / "run.log", "w") as log:
        return subprocess.Popen([sys.executable, "-m", "flows.cli", "run", "--config", str(config),
                                 "--run-dir", str(out / "run")], cwd=checkout, env=env, stdout=log,
                                stderr=subprocess.STDOUT, text=True)


def finish(proc: subprocess.Popen, checkout: Path, out: Path) -> Path:
    """Waits for a run of :func:`start`; returns its run folder.  Raises SystemExit if it failed."""
    if proc.wait():
        tail = (out / "run.log").read_text()[-3000:]
        raise SystemExit(f"{checkout}: the run failed (see {out / 'run.log'}):\n{tail}")
    return out / "run"


def tables(run_dir: Path, replace: dict[str, str]) -> dict[str, pd.DataFrame]:
    """Every table of the run's database without clocks and run ids, paths replaced, rows sorted."""
    out = {}
    with duckdb.connect(str(run_dir / "acdc.duckdb"), read_only=True) as con:
        for (name,) in con.execute("SHOW TABLES").fetchall():
            cols = [c for c, *_ in con.execute(f"DESCRIBE {name}").fetchall()
                    if c not in ("seconds", "run_id") and not c.endswith("_at")]
            df = con.execute(f"SELECT {', '.join(cols)} FROM {name}").df().astype(str)
            if name == "metrics":
                df = df[~df["name"].isin(CLOCK_METRICS)]
            for old, new in replace.items():
                df = df.replace(old, new, regex=True)
            out[name] = df.sort_values(list(df.columns)).reset_index(drop=True)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--before", type=Path, required=True, help="checkout of the code before the change")
    p.add_argument("--after", type=Path, required=True, help="checkout of the code after it")
    p.add_argument("--preset", choices=["pico", "default"], default="pico")
    p.add_argument("--config", type=Path, help="a config file to run instead of a preset")
    p.add_argument("--generations", type=int, default=10)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--parallel", action="store_true", help="run the two sides at once")
    p.add_argument("--threads", type=int, help="evaluation.torch_threads of both sides")
    p.add_argument("--cache", type=Path, help="a user cache (ACDC_CACHE_DIR) to copy into both sides")
    a = p.parse_args()
    runs = {}
    for side, checkout in (("before", a.before.resolve()), ("after", a.after.resolve())):
        out = (a.out / side).resolve()
        out.mkdir(parents=True, exist_ok=True)
        if a.cache and not (out / "cache").exists():
            shutil.copytree(a.cache.expanduser(), out / "cache")
        cfg = side_config(a, checkout, out)
        if a.threads:
            cfg.setdefault("evaluation", {})["torch_threads"] = a.threads
        config = out / "config.yaml"
        config.write_text(yaml.safe_dump(cfg))
        runs[side] = (start(checkout, config, out), checkout, out)  # a finished run resumes to "nothing to do"
        if not a.parallel:
            finish(*runs[side])
    found = {side: tables(finish(*r), {str(r[2]): "OUT", str(r[1]): "CHECKOUT"}) for side, r in runs.items()}
    same = True
    for name in sorted(set(found["before"]) | set(found["after"])):
        x, y = found["before"].get(name), found["after"].get(name)
        ok = x is not None and y is not None and x.equals(y)
        same &= ok
        rows = "-" if x is None else len(x)
        detail = "" if ok or x is None or y is None or x.shape != y.shape else \
            f" (columns {[c for c in x.columns if not x[c].equals(y[c])]})"
        print(f"{name:22s} {rows:>7} rows  {'identical' if ok else 'DIFFERENT' + detail}")
    print("every table identical" if same else "the runs differ")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
