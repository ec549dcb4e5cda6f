"""Integration: task adaptation inside real ``acdc run`` processes on pico models.

The scientist is the OpenAI-compatible client talking to a real HTTP server on localhost that
replays recorded replies (``tests/data/scientist_replies``): a real, broken SmolLM2 reply, valid
families, one that needs a judge the run does not have, and the fix sent after reflection.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml
from helpers.openai_server import OpenAIServer
from helpers.runs import acdc, acdc_env, pico_config, table

from storage import queries

pytestmark = pytest.mark.slow
REPLIES = Path(__file__).parent / "data" / "scientist_replies"


def scripted_scientist():
    """Round-0 replies in a fixed cycle; reflections answered by what the error asks for."""
    first = itertools.cycle([
        (REPLIES / "smollm2_harder_list_sum.txt").read_text(),
        (REPLIES / "authored_valid_colour_note.txt").read_text(),
        (REPLIES / "authored_needs_judge.txt").read_text(),
        (REPLIES / "authored_valid_animal_list.txt").read_text(),
    ])
    fix = (REPLIES / "authored_fix_after_reflection.txt").read_text()

    def reply(request: dict) -> str:
        last = request["messages"][-1]["content"]
        if "was rejected" in last:
            return fix
        if "interestingly new" in last:
            return "It asks for something the known tasks do not.\nYes"
        return next(first)

    return reply


@pytest.fixture(scope="module")
def llm_run(tmp_path_factory, pico_family):
    root = tmp_path_factory.mktemp("task-flows")
    cfg = pico_config(pico_family["base"], generations=2)
    cfg["adaptation"] = {"every": 1, "parents": 4, "reflection_rounds": 1, "pool_cap": 9, "min_pool": 0}
    cfg["evaluation"]["retired_sample"] = 1  # admitted children answer one retired instance
    env = acdc_env(root)
    env["ACDC_TEST_SCIENTIST_KEY"] = "sk-local-test"
    # Prefect refuses a flow run whose parameters pass this size (512 KB by default): a run whose
    # adaptation subflow got the history's embeddings died once its history held ~60 families.
    # At 16 KB a flow parameter that grows with the history fails here already.
    env["PREFECT_SERVER_API_MAX_PARAMETER_SIZE"] = "16384"
    with OpenAIServer(replies=scripted_scientist(), api_key="sk-local-test", model="scientist-72b") as srv:
        cfg["scientist"] = {"backend": "openai", "base_url": srv.base_url, "model": srv.model,
                            "api_key_env": "ACDC_TEST_SCIENTIST_KEY", "concurrency": 1, "max_retries": 1}
        (root / "cfg.yaml").write_text(yaml.safe_dump(cfg))
        run_dir = root / "run"
        res = acdc(["run", "--config", str(root / "cfg.yaml"), "--run-dir", str(run_dir)], env)
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        again = acdc(["run", "--run-dir", str(run_dir)], env)
        requests = list(srv.requests)
    return {"run_dir": run_dir, "requests": requests, "again": again}


def test_scientist_replies_are_validated_reflected_and_admitted(llm_run):
    run_dir = llm_run["run_dir"]
    rows = table(run_dir, "SELECT generation, request_id, round, status, reason, name FROM task_proposals "
                          "ORDER BY generation, request_id, round")
    gen1 = [r for r in rows if r[0] == 1]
    by_round = {(r[1], r[2]): r for r in gen1}
    assert {r[2] for r in gen1} == {0, 1}
    statuses0 = [by_round[(f"g1-r{i}", 0)][3] for i in range(4)]
    assert statuses0[0] == "invalid" and statuses0[2] == "invalid"
    assert "no LLM judge configured" in by_round[("g1-r2", 0)][4]
    broken_reason = by_round[("g1-r0", 0)][4]
    assert broken_reason  # what the scientist is shown
    # the broken attempt and its error went back to the scientist in a reflection round
    reflections = [r for r in llm_run["requests"] if "was rejected" in r["messages"][-1]["content"]]
    assert any(broken_reason in r["messages"][-1]["content"] for r in reflections)
    assert all(r["messages"][-2]["role"] == "assistant" for r in reflections)
    assert by_round[("g1-r0", 1)][3] == "admitted" and by_round[("g1-r0", 1)][5] == "weekday_word_checksum"
    # the same fix sent again for the judge task is a duplicate: it stays rejected
    assert by_round[("g1-r2", 1)][3] == "invalid" and "already exists" in by_round[("g1-r2", 1)][4]


def test_admitted_tasks_have_lineage_embeddings_and_archive_scores(llm_run):
    run_dir = llm_run["run_dir"]
    new = table(run_dir, "SELECT task_id, name, origin, parent_id, created_generation FROM task_families "
                         "WHERE created_generation > 0")
    assert new and all(o in ("harder", "easier", "novel_related", "novel_new") for _, _, o, _, _ in new)
    parents = {r[0] for r in table(run_dir, "SELECT task_id FROM task_families")}
    assert all(p in parents for *_, p, _ in new)
    n_fams = table(run_dir, "SELECT count(*) FROM task_families")[0][0]
    assert table(run_dir, "SELECT count(*) FROM task_embeddings")[0][0] == n_fams
    assert table(run_dir, "SELECT min(len(embedding)), max(abs(list_dot_product(embedding, embedding) - 1)) "
                          "FROM task_embeddings")[0][0] == 384
    seeds = {r[0] for r in table(run_dir, "SELECT model_id FROM models WHERE operator = 'seed'")}
    for tid, _, _, _, gen in new:
        archive = {r[0] for r in table(run_dir, f"SELECT model_id FROM archive WHERE generation = {gen}")}
        scored = {r[0] for r in table(run_dir, f"SELECT DISTINCT model_id FROM evaluations WHERE task_id = '{tid}' "
                                               f"AND generation = {gen}")}
        assert scored == archive | seeds  # the archive and the seeds answered every admitted task, in its generation
    # unsolved seed tasks were dropped and recorded; the pool respects its cap
    events = table(run_dir, "SELECT event, count(*) FROM task_events GROUP BY 1")
    assert dict(events).get("dropped_unsolved", 0) >= 1
    assert table(run_dir, "SELECT count(*) FROM task_families WHERE active")[0][0] <= 9


def test_every_archive_member_answered_the_task_history_but_retired_instances_out_of_the_sample(llm_run):
    run_dir = llm_run["run_dir"]
    seed = yaml.safe_load(table(run_dir, "SELECT config_yaml FROM runs")[0][0])["run"]["seed"]
    unasked = table(run_dir, """
        SELECT a.generation, i.task_id || '/' || i.instance_id FROM archive a
        JOIN task_families f ON f.created_generation <= a.generation
        JOIN task_instances i USING (task_id)
        ANTI JOIN evaluations e ON e.model_id = a.model_id AND e.task_id = i.task_id AND e.instance_id = i.instance_id""")
    with queries.open_run(run_dir) as con:
        history = {g: queries.history_coverage(con, [], 0.5, g, 1, seed) for g in (0, 1, 2)}
    assert unasked and all(key in history[g].retired - history[g].sampled for g, key in unasked)
    # the admitted children of generation 2 answered the one drawn instance of the families retired in generation 1
    answered = table(run_dir, "SELECT m.model_id, list(e.task_id || '/' || e.instance_id) FROM evaluations e "
                              "JOIN models m USING (model_id) JOIN task_families f USING (task_id) "
                              "WHERE m.created_generation = 2 AND m.archive_status = 'admitted' "
                              "AND f.retired_generation = 1 GROUP BY 1")
    assert answered and all(set(keys) == history[1].sampled for _, keys in answered)
    m = dict(table(run_dir, "SELECT name, value FROM metrics WHERE generation = 2"))
    assert m["history_retired"] == len(history[2].retired) > m["history_sampled"] == 1
    assert m["coverage_history_lo"] <= m["coverage_history"] <= m["coverage_history_hi"]
    assert m["coverage_history_lo"] < m["coverage_history_hi"]
    # and every archive member and seed answered the held-out instances of every family admitted
    # by then, the ones adaptations admitted too
    admitted = table(run_dir, "SELECT task_id FROM task_families WHERE created_generation > 0")
    assert admitted and {t for (t,) in admitted} <= {t for (t,) in table(run_dir, "SELECT task_id FROM heldout_draws")}
    assert table(run_dir, "SELECT count(*) FROM heldout_instances h JOIN task_families f USING (task_id) "
                          "WHERE f.created_generation > 0")[0][0] > 0
    unasked_heldout = table(run_dir, """
        SELECT a.generation, a.model_id, count(*) FROM archive a
        JOIN heldout_draws d ON d.generation <= a.generation
        JOIN heldout_instances h USING (task_id)
        ANTI JOIN heldout_answers e ON e.model_id = a.model_id AND e.task_id = h.task_id
                                   AND e.instance_id = h.instance_id AND e.sample = 0
        GROUP BY ALL""")
    assert unasked_heldout == []


def test_diversity_metrics_every_generation_and_resume_is_a_no_op(llm_run):
    run_dir = llm_run["run_dir"]
    metrics = table(run_dir, "SELECT generation, name, value FROM metrics WHERE name IN "
                             "('vendi_cumulative', 'vendi_active', 'hdbscan_clusters', 'discriminating_share', "
                             "'tasks_proposed', 'tasks_admitted') ORDER BY 1, 2")
    per_gen = {}
    for g, name, value in metrics:
        per_gen.setdefault(g, {})[name] = value
    assert set(per_gen) == {0, 1, 2}
    assert "tasks_proposed" not in per_gen[0] and per_gen[1]["tasks_proposed"] == 4
    assert per_gen[1]["vendi_cumulative"] > per_gen[0]["vendi_cumulative"] >= 1.0
    assert 0.0 <= per_gen[2]["discriminating_share"] <= 1.0
    clusters = table(run_dir, "SELECT generation, count(*) FROM task_clusters GROUP BY 1 ORDER BY 1")
    assert [c[0] for c in clusters] == [0, 1, 2]
    assert llm_run["again"].returncode == 0 and "nothing to do" in (llm_run["again"].stdout + llm_run["again"].stderr)
