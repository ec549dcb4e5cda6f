"""Integration: held-out instances, the noise floor and ``acdc transfer`` in real ``acdc run``
processes on pico models (a real sandbox, a real DuckDB file, the template scientist)."""

from __future__ import annotations

import json

import pytest
import yaml
from helpers.runs import acdc, acdc_env, pico_config, table

pytestmark = pytest.mark.slow


def _config(pico_family, **sections) -> dict:
    cfg = pico_config(pico_family["base"], generations=2)
    cfg["heldout"] = {"instances": 2}
    cfg["noise"] = {"samples": 2, "temperature": 1.0}
    cfg.update(sections)
    return cfg


@pytest.fixture(scope="module")
def runs(tmp_path_factory, pico_family):
    """The same pico run three times: with held-out instances and the noise floor (generations
    0-2), with neither (0-1), and with noise-aware selection (0); then ``acdc transfer`` on the first.  (Held-out
    instances of families an adaptation admits: tests/test_task_flows.py.)"""
    root = tmp_path_factory.mktemp("transfer")
    env = acdc_env(root)
    out = {}
    one = {"name": "pico", "seed": 11, "generations": 1}
    for name, cfg in (("measured", _config(pico_family)),
                      ("blind", _config(pico_family, run=one, heldout={"instances": 0}, noise={"samples": 0})),
                      ("aware", _config(pico_family, run={**one, "generations": 0},
                                        noise={"samples": 2, "temperature": 1.0, "aware_selection": True}))):
        (root / f"{name}.yaml").write_text(yaml.safe_dump(cfg))
        res = acdc(["run", "--config", str(root / f"{name}.yaml"), "--run-dir", str(root / name)], env)
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        out[name] = root / name
    res = acdc(["transfer", "--run-dir", str(out["measured"]), "--samples", "3", "--set-sizes", "2"], env)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    out["transfer_out"] = res.stdout
    out["status_out"] = acdc(["status", "--run-dir", str(out["measured"])], env).stdout
    return out


def test_every_family_draws_held_out_instances_disjoint_from_its_selection_instances(runs):
    run = runs["measured"]
    families = {t for (t,) in table(run, "SELECT task_id FROM task_families")}
    draws = dict(table(run, "SELECT task_id, n_instances FROM heldout_draws"))
    assert set(draws) == families and sum(draws.values()) > 0
    held = table(run, "SELECT task_id, instance_id, instructions FROM heldout_instances")
    assert all(i.startswith("h") for _, i, _ in held)
    assert {t for t, _, _ in held} <= families and len(held) == sum(draws.values())
    selection = set(table(run, "SELECT task_id, instructions FROM task_instances"))
    assert not {(t, text) for t, _, text in held} & selection
    # held-out ids never reach the tables selection reads
    assert table(run, "SELECT count(*) FROM evaluations WHERE instance_id LIKE 'h%'")[0][0] == 0


def test_archive_and_seeds_answer_every_held_out_instance_and_coverage_is_theirs(runs):
    run = runs["measured"]
    n_held = table(run, "SELECT count(*) FROM heldout_instances")[0][0]
    for g in (0, 1, 2):
        members = {m for (m,) in table(run, f"SELECT model_id FROM archive WHERE generation = {g}")}
        seeds = {m for (m,) in table(run, "SELECT model_id FROM models WHERE operator = 'seed'")}
        metrics = dict(table(run, f"SELECT name, value FROM metrics WHERE generation = {g}"))
        # the instances of families admitted by g, and the archive's and seeds' greedy answers to them
        keys = table(run, f"""SELECT count(*) FROM heldout_instances h JOIN heldout_draws d USING (task_id)
                              WHERE d.generation <= {g}""")[0][0]
        assert metrics["heldout_instances"] == keys
        for who, ids, name in (("archive", members, "coverage_heldout"), ("seeds", seeds, "coverage_heldout_seeds")):
            solved = table(run, f"""SELECT count(DISTINCT task_id || instance_id) FROM heldout_answers a
                JOIN heldout_draws d USING (task_id)
                WHERE sample = 0 AND score >= 0.5 AND d.generation <= {g}
                  AND list_contains({sorted(ids)}, model_id)""")[0][0]
            assert metrics[name] == pytest.approx(solved / keys), who
    last = {m for (m,) in table(run, "SELECT model_id FROM archive WHERE generation = 2")} | seeds
    answered = table(run, f"""SELECT model_id, count(*) FROM heldout_answers WHERE sample = 0
                              AND list_contains({sorted(last)}, model_id) GROUP BY 1""")
    assert dict(answered) == {m: n_held for m in last}


def test_held_out_instances_and_the_noise_floor_change_no_decision(runs):
    def decisions(run):
        return (table(run, "SELECT generation, model_id, rank FROM archive WHERE generation <= 1 ORDER BY ALL"),
                table(run, "SELECT model_id, task_id, instance_id, score FROM evaluations WHERE generation <= 1 "
                           "ORDER BY ALL"),
                table(run, "SELECT task_id FROM task_families WHERE created_generation <= 1 ORDER BY ALL"))
    assert decisions(runs["measured"]) == decisions(runs["blind"])
    assert table(runs["blind"], "SELECT count(*) FROM heldout_answers")[0][0] == 0
    assert table(runs["blind"], "SELECT count(*) FROM noise_floor")[0][0] == 0


def test_noise_floor_rows_cover_every_find_and_count_the_parents_samples(runs):
    run = runs["measured"]
    finds = {(g, m, k) for g, m, keys in table(run, "SELECT generation, model_id, new_solved FROM child_effects")
             for k in keys}
    rows = table(run, "SELECT generation, model_id, task_id || '/' || instance_id, parent_samples, parent_solved "
                      "FROM noise_floor")
    assert {(g, m, k) for g, m, k, _, _ in rows} == finds
    parents = dict(table(run, "SELECT model_id, len(parents) FROM child_effects"))
    assert all(n == 2 * parents[m] and 0 <= s <= n for _, m, _, n, s in rows)
    for g in (1, 2):
        metrics = dict(table(run, f"SELECT name, value FROM metrics WHERE generation = {g}"))
        found = {k for gg, _, k in finds if gg == g}
        robust = {k for gg, _, k, _, s in rows if gg == g and s == 0}
        assert metrics["children_new_robust"] == len(robust - {k for gg, _, k, _, s in rows if gg == g and s > 0})
        assert metrics["new_survive_share"] == pytest.approx(metrics["children_new_robust"] / len(found) if found else 1)


def test_noise_aware_selection_credits_children_without_what_parents_reach(runs):
    """Generation 0 of the aware run evaluates the same models as the measured run and stores the
    same greedy scores; its archive update credits each mutant only with the finds its seed does
    not reach when sampled, so a mutant with such noise is kept with a lower fitness, or not kept."""
    aware, measured = runs["aware"], runs["measured"]
    g0 = "SELECT model_id, task_id, instance_id, score FROM evaluations WHERE generation = 0 ORDER BY ALL"
    assert table(aware, g0) == table(measured, g0)
    assert table(aware, "SELECT * FROM noise_floor ORDER BY ALL") == table(
        measured, "SELECT * FROM noise_floor WHERE generation = 0 ORDER BY ALL")
    noisy = {m for (m,) in table(aware, "SELECT DISTINCT model_id FROM noise_floor WHERE parent_solved > 0")}
    assert noisy, "the pico mutants' finds include some their seed reaches when sampled"
    fit = "SELECT model_id, fitness FROM archive WHERE generation = 0"
    kept_aware, kept_measured = dict(table(aware, fit)), dict(table(measured, fit))
    for m in noisy & kept_measured.keys():
        assert m not in kept_aware or kept_aware[m] < kept_measured[m]


def test_acdc_transfer_fills_samples_and_compares_sets(runs):
    run = runs["measured"]
    pool = {m for (m,) in table(run, "SELECT DISTINCT model_id FROM archive")} | \
        {m for (m,) in table(run, "SELECT model_id FROM models WHERE operator = 'seed'")}
    n_held = table(run, "SELECT count(*) FROM heldout_instances")[0][0]
    greedy = dict(table(run, "SELECT model_id, count(*) FROM heldout_answers WHERE sample = 0 GROUP BY 1"))
    assert {m: greedy.get(m) for m in pool} == {m: n_held for m in pool}
    sampled = table(run, "SELECT model_id, count(*), count(DISTINCT sample), min(temperature) FROM heldout_answers "
                         "WHERE sample > 0 GROUP BY 1")
    assert len(sampled) == 1 and sampled[0][1:] == (3 * n_held, 3, 0.7)
    rows = {r[0]: r for r in table(run, "SELECT set_name, n, members, coverage_heldout, coverage_history, n_heldout "
                                        "FROM transfer_results")}
    assert {"task_force_2", "task_force_seeded_2", "task_force_heldout_2", "best_seed_sampled_2", "seeds",
            "archive_final", "ever_archived"} <= set(rows)
    assert rows["task_force_seeded_2"][3] >= rows["seeds"][3] - 1e-12 or len(rows["seeds"][2]) > 2
    assert all(r[5] == n_held and 0 <= r[3] <= 1 for r in rows.values())
    assert "task_force_2" in runs["transfer_out"] and "held-out" in runs["transfer_out"]
    assert "coverage of the held-out instances" in runs["status_out"]
    # the sampled answers are the best seed's: the seed of highest mean history score
    assert json.dumps(rows["best_seed_sampled_2"][2][0]) and rows["best_seed_sampled_2"][2][0] == sampled[0][0]
