"""The layers hold: import-linter's contracts (pyproject.toml), and at run time the pure core
loads none of the heavy libraries."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "transformers", "mergekit", "prefect", "duckdb", "sentence_transformers", "lm_eval")


def test_import_contracts_are_kept():
    exe = Path(sys.executable).with_name("lint-imports")
    cmd = [str(exe)] if exe.exists() else [shutil.which("lint-imports") or "lint-imports"]
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert "0 broken" in res.stdout


def _core_modules() -> list[str]:
    """Every module under acdc_core but its adapters (what the pure-core contract names by pattern)."""
    root = ROOT / "acdc_core"
    mods = []
    for f in sorted(root.rglob("*.py")):
        parts = f.relative_to(ROOT).with_suffix("").parts
        if "adapters" in parts or "seed_tasks" in parts:  # seed tasks are task code: they run in the sandbox
            continue
        mods.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return mods


def test_the_pure_core_contract_names_every_core_module_by_pattern():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    pure = next(c for c in config["contracts"] if c["name"].startswith("The pure core"))
    assert pure["source_modules"] == ["acdc_core.*"]  # a new core file is covered without editing the list
    assert len(_core_modules()) > 20


def test_importing_the_pure_core_loads_no_heavy_library():
    code = ("import importlib, json, sys\n"
            f"for m in {_core_modules()!r}: importlib.import_module(m)\n"
            f"print(json.dumps(sorted(h for h in {HEAVY!r} if h in sys.modules)))")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    assert json.loads(res.stdout) == []
