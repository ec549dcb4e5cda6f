"""Integration: a whole run, on pico models, whose seed task set holds hostile families (issue 30).

One ``acdc run`` of two generations with four hostile families beside two plumbing ones
(``tests/data/hostile_families``): a judge flood that never reads its stdin (no judge
configured), a family that leaves its session and keeps running after its reply, lone
surrogates in instructions, task data and errors, and a forged reply nested 100,000 deep.  Every
generation commits, each hostile family stays in the pool and scores 0 on every instance (also
its held-out ones), and nothing of theirs is alive on the host afterwards.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from helpers.runs import DATA, acdc, acdc_env, pico_config, table

from acdc_core.adapters.sandbox import client

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not client.isolation_prefix(), reason="needs PID, mount and network namespaces")]

HOSTILE = ("hostile_judge_flood", "hostile_setsid", "hostile_surrogate", "hostile_deep_reply")
MARKER = "acdcsetsid7f3e"  # the name hostile_setsid gives each of its processes


def alive_named(name: str) -> list[int]:
    pids = []
    for p in Path("/proc").glob("[0-9]*"):
        try:
            if (p / "comm").read_text().strip() == name:
                pids.append(int(p.name))
        except OSError:
            pass
    return pids


def test_hostile_families_cannot_hang_wedge_or_outlive_a_run(tmp_path, pico_family):
    cfg = pico_config(pico_family["base"], generations=1)
    cfg["tasks"] = {"include": ["response_hash_0", "response_hash_1", *HOSTILE],
                    "extra_dirs": [str(DATA / "families"), str(DATA / "hostile_families")]}
    cfg["sandbox"] = {"timeout_s": 3}
    cfg["judge"] = {"backend": "none"}
    cfg["heldout"] = {"instances": 1}
    cfg["noise"] = {"samples": 1}
    path = tmp_path / "hostile.yaml"
    path.write_text(yaml.safe_dump(cfg))
    run_dir = tmp_path / "run"
    res = acdc(["run", "--config", str(path), "--run-dir", str(run_dir)], acdc_env(tmp_path), timeout=900)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "Traceback" not in res.stderr

    # the run went on to its last generation, every generation committed
    assert table(run_dir, "SELECT generation FROM generations ORDER BY 1") == [(0,), (1,)]
    # their get_tasks() is honest, so all four are in the pool and scoring is what is attacked
    families = dict(table(run_dir, "SELECT name, task_id FROM task_families WHERE active"))
    assert set(families) == {"response_hash_0", "response_hash_1", *HOSTILE}
    for name in HOSTILE:
        tid = families[name]
        scores = table(run_dir, f"SELECT max(score), count(*) FROM evaluations WHERE task_id = '{tid}'")
        assert scores[0][1] > 0 and scores[0][0] == 0.0, (name, scores)
        heldout = table(run_dir, f"SELECT max(score) FROM heldout_answers WHERE task_id = '{tid}'")
        assert heldout[0][0] in (None, 0.0), name

    def errors(name):
        return {e for (e,) in table(run_dir, "SELECT DISTINCT error FROM evaluations "
                                             f"WHERE task_id = '{families[name]}'")}

    # how each was contained: the flood by the deadline, the forged reply by the parser, the
    # surrogates by the cleaning (stored as U+FFFD); the session leaver's reply is taken, and none
    # of its processes is left
    assert all(e and "timed out after 3" in e for e in errors("hostile_judge_flood"))
    assert errors("hostile_deep_reply") == {"sandbox: malformed reply from the sandbox"}
    assert errors("hostile_surrogate") == {"ValueError: \ufffd"}
    assert table(run_dir, "SELECT DISTINCT instructions FROM task_instances "
                          f"WHERE task_id = '{families['hostile_surrogate']}'") == [("\ufffd",)]
    assert errors("hostile_setsid") == {None}
    assert alive_named(MARKER) == []
