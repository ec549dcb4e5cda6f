"""scripts/evidence.py on pico runs: each arm is a real run with its ablation switch, assessed,
and the printed table holds every arm's stored coverage numbers."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
import yaml
from helpers.runs import acdc_env, pico_config, table

pytestmark = pytest.mark.slow
SCRIPT = Path(__file__).parents[1] / "scripts" / "evidence.py"


def load_script():
    spec = importlib.util.spec_from_file_location("evidence", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_two_arms_run_assess_and_print_side_by_side(tmp_path, pico_family, monkeypatch, capsys):
    evidence = load_script()
    cfg = pico_config(pico_family["base"], generations=1)
    cfg["assessment"] = {"set_sizes": [2, 3], "max_gen_toks": 8, "batch_size": 8, "n_boot": 200,
                         "best_of_n": ["majority_vote", "judge_pick"],
                         "reference_models": [{"name": "pico-expert", "path": str(pico_family["expert_a"])}]}
    (tmp_path / "base.yaml").write_text(yaml.safe_dump(cfg))
    monkeypatch.setattr(os, "environ", acdc_env(tmp_path))
    out = tmp_path / "evidence"
    assert evidence.main(["--out", str(out), "--config", str(tmp_path / "base.yaml"), "--arms", "default,frozen_pool",
                          "--generations", "1", "--items", "3", "--gen-items", "2", "--code-items", "2",
                          "--judge", str(pico_family["expert_a"]), "--judge-benchmarks", "arc_easy",
                          "--judge-tokens", "4"]) == 0
    printed = capsys.readouterr().out
    stored = yaml.safe_load((out / "frozen_pool" / "config.yaml").read_text())
    assert stored["adaptation"]["every"] == 0 and stored["run"]["generations"] == 1
    assert stored["assessment"]["judge"]["model"] == str(pico_family["expert_a"])
    assert stored["assessment"]["answers_from"] == [str((out / "default").resolve())]  # shared models answer once
    assert stored["assessment"]["baselines"] == ["best_seed_sampled", "seed_experts"]
    assert yaml.safe_load((out / "default" / "config.yaml").read_text())["adaptation"]["every"] != 0
    sections = printed.split("### ")
    for arm in ("default", "frozen_pool"):
        section = next(x for x in sections if x.startswith(f"Arm {arm}:"))
        rows = table(out / arm, "SELECT set_name, benchmark, value, n_items FROM assessment_results "
                                "WHERE metric = 'coverage' AND set_name <> 'task_pool'")
        assert {b for _, b, _, _ in rows} == {"all", "arc_easy", "piqa", "boolq", "mmlu_rc", "gsm8k", "humaneval", "mbpp"}
        for s, b, v, n in rows:
            assert f"| {b} | {s} | {v:.3f} |" in section
            assert n == {"gsm8k": 2, "humaneval": 2, "mbpp": 2, "all": n}.get(b, 3)
        mean = dict((s, v) for s, b, v, _ in rows if b == "all")
        ablation = next(x for x in sections if x.startswith("Ablations"))
        assert f"| {arm} | task_force_greedy_3 |" in ablation and f"{mean['task_force_greedy_3']:.3f} |" in ablation
        judged = table(out / arm, "SELECT DISTINCT benchmark FROM assessment_results WHERE metric = 'bon_judge_pick'")
        assert {b for (b,) in judged} - {"all"} == {"arc_easy"}
        assert f"| {arm} | arc_easy | task_force_greedy_3 | judge_pick |" in printed
        curve = next(x for x in sections if x.startswith("Coverage of the whole task history"))
        assert any(line.startswith("| 1 | ") for line in curve.splitlines())
    assert (out / "history_by_arm.png").stat().st_size > 10_000
    assert (out / "evidence.md").read_text().strip() in printed
    # again with --judge none: the judge the runs stored stays off (assess merges its keys)
    assert evidence.main(["--out", str(out), "--config", str(tmp_path / "base.yaml"), "--arms", "default,frozen_pool",
                          "--generations", "1", "--items", "3", "--gen-items", "2", "--code-items", "2",
                          "--judge", "none"]) == 0
    for arm in ("default", "frozen_pool"):
        assert not table(out / arm, "SELECT * FROM assessment_results WHERE metric = 'bon_judge_pick'")
        assert table(out / arm, "SELECT count(*) FROM assessment_results WHERE metric = 'bon_majority_vote'")[0][0]
    with pytest.raises(SystemExit):
        evidence.main(["--arms", "default,bigger_model"])
