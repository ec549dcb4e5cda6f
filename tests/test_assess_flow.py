"""`acdc assess` on a real (pico) run: global skill vectors, sets, lm-eval on the shipped
benchmark files, coverage rows that match the stored answers, best-of-N through a judge
server, incremental reuse, and `acdc report` drawing the result."""

from __future__ import annotations

import json
import re
import shutil

import duckdb
import numpy as np
import pytest
import yaml
from helpers.openai_server import OpenAIServer
from helpers.runs import acdc, acdc_env, pico_config, table
from transformers import AutoModelForCausalLM

from acdc_core.adapters.weights import content_hash
from acdc_core.assessment.selection import coverage_of, greedy_max_coverage
from acdc_core.assessment.statistics import holm

pytestmark = pytest.mark.slow

SETS = ("task_force_greedy_2", "task_force_exact_2", "top_fitness_2", "random_2", "best_seed_sampled_2",
        "task_force_greedy_3", "seed_experts", "single_best", "reference:pico-expert")


def first_choice_judge(request: dict) -> str:
    text = request["messages"][-1]["content"]
    if "WINNER" in text:
        return "Both are short.\nWINNER: B"
    if "SCORE" in text:
        return "SCORE: 5"
    return "CHOICE: 1"


@pytest.fixture(scope="module")
def assessed(tmp_path_factory, pico_family):
    root = tmp_path_factory.mktemp("assess")
    with OpenAIServer(replies=first_choice_judge) as judge:
        cfg = pico_config(pico_family["base"])
        # tasks admitted after a model left the archive, and retired tasks no child answered,
        # leave (model, task) pairs to fill
        cfg["adaptation"] = {"every": 1, "parents": 4, "reflection_rounds": 1, "pool_cap": 9}
        cfg["evaluation"] = {**cfg.get("evaluation", {}), "answer_retired": False}
        cfg["judge"] = {"backend": "openai", "base_url": judge.base_url, "model": judge.model, "max_retries": 0}
        # the reference model is a base model without a chat template (as Gemma-3-270M is)
        plain = root / "plain-expert"
        shutil.copytree(pico_family["expert_a"], plain)
        (plain / "chat_template.jinja").unlink()
        tok_cfg = json.loads((plain / "tokenizer_config.json").read_text())
        tok_cfg.pop("chat_template", None)
        (plain / "tokenizer_config.json").write_text(json.dumps(tok_cfg))
        cfg["assessment"] = {
            "benchmarks": ["arc_easy", "boolq", "gsm8k", "humaneval"], "limit": 6, "limits": {"gsm8k": 3, "humaneval": 2},
            "set_sizes": [2, 3], "max_gen_toks": 8, "batch_size": 8, "n_boot": 200,
            "reference_models": [{"name": "pico-expert", "path": str(plain)}],
        }
        (root / "pico.yaml").write_text(yaml.safe_dump(cfg))
        env, run_dir = acdc_env(root), root / "run"
        res = acdc(["run", "--config", str(root / "pico.yaml"), "--run-dir", str(run_dir)], env)
        assert res.returncode == 0, res.stderr[-3000:]
        first = acdc(["assess", "--run-dir", str(run_dir)], env)
        assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-5000:]
        items_after_first = table(run_dir, "SELECT * FROM benchmark_items ORDER BY ALL")
        again = acdc(["assess", "--run-dir", str(run_dir)], env)
        assert again.returncode == 0, again.stderr[-3000:]
        yield {"run_dir": run_dir, "env": env, "first": first.stdout + first.stderr, "again": again.stdout + again.stderr,
               "items_after_first": items_after_first, "judge_requests": list(judge.requests)}


def test_every_archived_model_is_evaluated_on_the_whole_history(assessed):
    run_dir = assessed["run_dir"]
    missing = table(run_dir, """
        WITH pool AS (SELECT DISTINCT model_id FROM archive UNION SELECT model_id FROM models WHERE operator = 'seed')
        SELECT count(*) FROM pool, task_instances i
        ANTI JOIN evaluations e ON e.model_id = pool.model_id AND e.task_id = i.task_id AND e.instance_id = i.instance_id""")
    assert missing == [(0,)]
    n = int(re.search(r"(\d+) model x task pairs evaluated", assessed["first"]).group(1))
    assert n > 0 and table(run_dir, "SELECT count(*) FROM evaluations WHERE source = 'assess'") == [(n,)]
    assert table(run_dir, "SELECT count(*) FROM evaluations WHERE source IS NULL") == [(0,)]
    assert "0 model x task pairs evaluated" in assessed["again"]


def test_sets_are_chosen_on_the_synthetic_pool(assessed):
    run_dir = assessed["run_dir"]
    sets = {r[0]: r for r in table(run_dir, "SELECT set_name, kind, n, members, synthetic_coverage FROM assessment_sets")}
    assert set(SETS) <= set(sets)
    pool = [r[0] for r in table(run_dir, "SELECT set_name FROM assessment_sets WHERE kind = 'task_force_greedy'")]
    assert pool
    # the pool in the flow's order (ties in the greedy go to the lower index): archived models by
    # first archived generation, then seeds that were never archived
    ids = [r[0] for r in table(run_dir, "SELECT model_id FROM archive GROUP BY 1 ORDER BY min(generation), model_id")]
    ids += [r[0] for r in table(run_dir, "SELECT model_id FROM models WHERE operator = 'seed' ORDER BY model_id") if r[0] not in ids]
    # skill vectors per instance (the default granularity): a column per (task, instance) that
    # any pool model was scored on
    score = {(m, t, i): s for m, t, i, s in table(run_dir, "SELECT model_id, task_id, instance_id, score FROM evaluations")
             if m in ids}
    columns = sorted({(t, i) for _, t, i in score})
    solved = np.array([[score.get((m, t, i), 0) >= 0.5 for t, i in columns] for m in ids])
    for name in ("task_force_greedy_2", "task_force_exact_2", "seed_experts", "single_best"):
        members = [ids.index(m) for m in sets[name][3]]
        assert sets[name][4] == pytest.approx(coverage_of(solved, members))
    exact = sets["task_force_exact_2"][4]
    assert exact >= sets["task_force_greedy_2"][4] and exact >= sets["top_fitness_2"][4] and exact >= sets["random_2"][4]
    assert sorted(sets["task_force_greedy_2"][3]) == sorted(ids[i] for i in greedy_max_coverage(solved, 2))
    assert len(set(sets["best_seed_sampled_2"][3])) == 1 and sets["best_seed_sampled_2"][2] == 2


def test_answers_come_from_lm_eval_on_the_shipped_items(assessed):
    run_dir = assessed["run_dir"]
    members = {m for (ms,) in table(run_dir, "SELECT members FROM assessment_sets") for m in ms}
    counts = dict(((m, b), n) for m, b, n in table(
        run_dir, "SELECT model_id, benchmark, count(*) FROM benchmark_items WHERE sample = 0 GROUP BY 1, 2"))
    for m in members:
        assert counts[(m, "arc_easy")] == 6 and counts[(m, "boolq")] == 6 and counts[(m, "gsm8k")] == 3
        assert counts[(m, "humaneval")] == 2
    wrong = table(run_dir, """SELECT count(*) FROM benchmark_items i JOIN benchmark_docs d USING (benchmark, doc_id)
        WHERE i.benchmark IN ('arc_easy', 'boolq') AND i.correct <> (i.answer = d.target)""")
    assert wrong == [(0,)]
    arc = table(run_dir, "SELECT prompt, len(choices) FROM benchmark_docs WHERE benchmark = 'arc_easy'")
    assert all(p.startswith("Question:") and n >= 3 for p, n in arc)
    sampled = table(run_dir, """SELECT benchmark, count(DISTINCT sample) FROM benchmark_items i
        JOIN assessment_sets s ON s.kind = 'best_seed_sampled' AND i.model_id = s.members[1] WHERE sample > 0 GROUP BY 1""")
    assert dict(sampled) == {"arc_easy": 3, "boolq": 3, "gsm8k": 3, "humaneval": 3}  # the largest sampled set's N
    # code: the program is the signature from the prompt plus the reply, run against the tests
    code = table(run_dir, """SELECT i.answer, i.response, i.correct, d.prompt, d.target FROM benchmark_items i
        JOIN benchmark_docs d USING (benchmark, doc_id) WHERE benchmark = 'humaneval'""")
    for answer, response, correct, prompt, target in code:
        signature = prompt.split("```python\n", 1)[1].split("\n```", 1)[0]
        assert answer == signature + response.split("```")[0] and "check(" in target
        assert not correct  # a pico model writes no working function
    gen = table(run_dir, "SELECT response, confidence FROM benchmark_items WHERE benchmark = 'gsm8k' AND sample = 0")
    assert all(r is not None for r, _ in gen) and any(c is not None and c < 0 for _, c in gen)


def test_coverage_rows_match_the_stored_answers(assessed):
    run_dir = assessed["run_dir"]
    for name, bench in (("task_force_greedy_3", "arc_easy"), ("single_best", "boolq"), ("reference:pico-expert", "gsm8k")):
        [(members,)] = table(run_dir, f"SELECT members FROM assessment_sets WHERE set_name = '{name}'")
        [(expected,)] = table(run_dir, f"""SELECT avg(solved::DOUBLE) FROM (SELECT doc_id, bool_or(correct) solved
            FROM benchmark_items WHERE benchmark = '{bench}' AND sample = 0 AND list_contains({members}, model_id)
            GROUP BY doc_id)""")
        [(value, lo, hi, p, n)] = table(run_dir, f"""SELECT value, ci_low, ci_high, p_value, n_items FROM assessment_results
            WHERE set_name = '{name}' AND benchmark = '{bench}' AND metric = 'coverage'""")
        assert value == pytest.approx(expected) and lo <= value <= hi and n == (3 if bench == "gsm8k" else 6)
        assert (p is None) == name.startswith("task_force") and (p is None or 0 < p <= 1)
    pooled = table(run_dir, "SELECT count(*) FROM assessment_results WHERE benchmark = 'all' AND metric = 'coverage'")
    assert pooled[0][0] == len(table(run_dir, "SELECT * FROM assessment_sets"))
    assert table(run_dir, """SELECT max(value) FROM assessment_results
        WHERE set_name = 'task_pool' AND metric = 'contaminated_items'""") == [(0.0,)]


def test_p_values_are_holm_adjusted_over_the_whole_assessment(assessed):
    rows = table(assessed["run_dir"], "SELECT p_value, p_holm FROM assessment_results WHERE p_value IS NOT NULL "
                                      "ORDER BY set_name, benchmark, metric")
    assert len(rows) > 10  # benchmarks x baselines, and the pooled rows
    assert [h for _, h in rows] == pytest.approx(holm([p for p, _ in rows]))
    assert all(p <= h <= 1 for p, h in rows)
    assert table(assessed["run_dir"], "SELECT count(*) FROM assessment_results "
                                      "WHERE p_value IS NULL AND p_holm IS NOT NULL") == [(0,)]


def test_export_writes_the_task_force_as_model_folders_with_cards(assessed, tmp_path):
    run_dir, env = assessed["run_dir"], assessed["env"]
    res = acdc(["export", "--run-dir", str(run_dir), "--out", str(tmp_path / "out")], env)
    assert res.returncode == 0, res.stderr[-3000:]
    [(name, members)] = table(run_dir, "SELECT set_name, members FROM assessment_sets WHERE kind = "
                                       "'task_force_greedy' ORDER BY n DESC LIMIT 1")
    folders = sorted(p for p in (tmp_path / "out").iterdir() if p.is_dir())
    assert [f.name.split("_", 1)[1] for f in folders] == list(dict.fromkeys(members))
    assert name in (tmp_path / "out" / "README.md").read_text()
    for folder in folders:
        mid = folder.name.split("_", 1)[1]
        assert content_hash(folder) == mid and not list(folder.glob("_*"))  # the weights, no store marker
        AutoModelForCausalLM.from_pretrained(folder)
        card = (folder / "README.md").read_text()
        assert card.startswith("---\nlibrary_name: transformers") and f"member of `{name}`" in card
        ancestors = table(run_dir, f"""WITH RECURSIVE up(m) AS (SELECT '{mid}' UNION
                                       SELECT parent_id FROM lineage JOIN up ON child_id = up.m) SELECT m FROM up""")
        assert all(f"`{a}`" in card for (a,) in ancestors)
        if (folder / "mergekit_config.yml").exists():
            assert (folder / "mergekit_config.yml").read_text().strip() in card
        for bench, acc in table(run_dir, f"SELECT benchmark, avg(correct::INTEGER) FROM benchmark_items "
                                         f"WHERE model_id = '{mid}' AND sample = 0 GROUP BY 1"):
            assert f"| {bench} |" in card and f"{acc:.3f} |" in card
        assert "## Skill profile over the run's task clusters" in card
    bad = acdc(["export", "--run-dir", str(run_dir), "--set", "nope", "--out", str(tmp_path / "x")], env)
    assert bad.returncode == 1 and "no assessed set named 'nope'" in bad.stderr and name in bad.stderr
    bad = acdc(["export", "--run-dir", str(run_dir), "--models", "feedface", "--out", str(tmp_path / "x")], env)
    assert bad.returncode == 1 and "feedface" in bad.stderr and not (tmp_path / "x").exists()


def test_best_of_n_methods_including_the_judge_ones(assessed):
    run_dir = assessed["run_dir"]
    methods = {r[0] for r in table(run_dir, """SELECT metric FROM assessment_results
        WHERE set_name = 'task_force_greedy_3' AND metric LIKE 'bon_%'""")}
    assert methods == {"bon_majority_vote", "bon_self_certainty", "bon_judge_pick", "bon_pairwise_tournament", "bon_judge_score"}
    judged = {r[0] for r in table(run_dir, "SELECT metric FROM assessment_results WHERE set_name = 'top_fitness_3' AND metric LIKE 'bon_judge%'")}
    assert not judged  # judge methods only for the task forces
    assert any("WINNER" in r["messages"][-1]["content"] for r in assessed["judge_requests"])
    rows = table(run_dir, """SELECT r.value, o.value FROM assessment_results r JOIN assessment_results o
        ON o.set_name = r.set_name AND o.benchmark = r.benchmark AND o.metric = 'coverage' WHERE r.metric LIKE 'bon_%'""")
    assert rows and all(v <= oracle + 1e-12 for v, oracle in rows)  # no selector beats the oracle


def test_a_local_judge_set_after_the_run_judges_the_chosen_benchmarks(assessed, tmp_path):
    """assessment.judge replaces the run's judge (here an OpenAI server) by a local model without a
    chat template of its own, on judge_benchmarks only; stored answers are reused."""
    run_dir = tmp_path / "run"
    shutil.copytree(assessed["run_dir"], run_dir)
    n_answers = table(run_dir, "SELECT count(*) FROM benchmark_items")[0][0]
    template = ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                "{% if add_generation_prompt %}assistant:{% endif %}")
    judge = {"backend": "hf", "model": str(assessed["run_dir"].parent / "plain-expert"), "chat_template": template,
             "max_tokens": 4, "temperature": 0.0}
    (tmp_path / "judge.yaml").write_text(yaml.safe_dump({"assessment": {"judge": judge, "judge_benchmarks": ["arc_easy"]}}))
    res = acdc(["assess", "--run-dir", str(run_dir), "--config", str(tmp_path / "judge.yaml")], assessed["env"])
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-5000:]
    judged = {b for (b,) in table(run_dir, "SELECT DISTINCT benchmark FROM assessment_results WHERE metric LIKE 'bon_judge%'")}
    assert judged - {"all"} == {"arc_easy"}
    assert {b for (b,) in table(run_dir, "SELECT DISTINCT benchmark FROM assessment_results WHERE metric = "
                                         "'bon_majority_vote'")} >= {"arc_easy", "boolq", "gsm8k"}
    assert table(run_dir, "SELECT count(*) FROM benchmark_items")[0][0] == n_answers


def test_answers_another_run_stored_with_the_same_settings_are_reused(assessed, tmp_path):
    """assessment.answers_from: models a run shares with another (seeds, references) take that run's
    stored answers instead of answering again; a run that answered with other settings, or none
    at all, is skipped with a warning.  assessment.baselines narrows the compared sets."""
    source, other, run_dir = tmp_path / "source", tmp_path / "other", tmp_path / "run"
    for d in (source, other, run_dir):
        shutil.copytree(assessed["run_dir"], d)
    for d, mark in ((source, 0.123), (other, 0.456)):  # marks no model would write
        with duckdb.connect(str(d / "acdc.duckdb")) as con:
            con.execute("UPDATE benchmark_items SET confidence = ?", [mark])
    cfg = yaml.safe_load((other / "config.yaml").read_text())
    cfg["assessment"]["max_gen_toks"] += 1
    (other / "config.yaml").write_text(yaml.safe_dump(cfg))
    with duckdb.connect(str(run_dir / "acdc.duckdb")) as con:
        con.execute("DELETE FROM benchmark_items")
    sources = [str(other), str(tmp_path / "nowhere"), str(source)]
    (tmp_path / "reuse.yaml").write_text(yaml.safe_dump({"assessment": {"answers_from": sources,
                                                                         "baselines": ["seed_experts"]}}))
    res = acdc(["assess", "--run-dir", str(run_dir), "--config", str(tmp_path / "reuse.yaml")], assessed["env"])
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-5000:]
    assert f"answers of {other} not reused: it answered with other settings ['max_gen_toks']" in out
    assert f"answers of {tmp_path / 'nowhere'} not reused" in out
    generation = "(SELECT max(generation) FROM assessment_sets)"
    kinds = table(run_dir, f"SELECT DISTINCT kind FROM assessment_sets WHERE generation = {generation} ORDER BY 1")
    assert kinds == [("reference",), ("seed_experts",), ("task_force_greedy",)]
    members = {m for (ms,) in table(run_dir, f"SELECT members FROM assessment_sets WHERE generation = {generation}")
               for m in ms}
    n = table(source, f"SELECT count(*) FROM benchmark_items WHERE list_contains({sorted(members)!r}, model_id)")[0][0]
    assert re.search(rf"{n} stored answers reused from {re.escape(str(source))}", out)
    assert table(run_dir, "SELECT DISTINCT confidence FROM benchmark_items") == [(0.123,)]  # none answered anew
    assert table(run_dir, "SELECT count(*) FROM benchmark_items")[0][0] == n


def test_a_rerun_reuses_answers_and_a_larger_limit_extends_the_subset(assessed):
    run_dir, env = assessed["run_dir"], assessed["env"]
    assert table(run_dir, "SELECT * FROM benchmark_items ORDER BY ALL") == assessed["items_after_first"]
    res = acdc(["assess", "--run-dir", str(run_dir), "--limit", "8", "--benchmarks", "arc_easy", "--set-sizes", "2",
                "--no-reference"], env)
    assert res.returncode == 0, res.stderr[-3000:]
    old = {r[:4]: r for r in assessed["items_after_first"]}
    new = table(run_dir, "SELECT * FROM benchmark_items ORDER BY ALL")
    assert all(old[r[:4]] == r for r in new if r[:4] in old)  # earlier answers untouched
    per_model = table(run_dir, """SELECT model_id, count(*) FROM benchmark_items
        WHERE benchmark = 'arc_easy' AND sample = 0 AND list_contains((SELECT members FROM assessment_sets
        WHERE set_name = 'task_force_greedy_2'), model_id) GROUP BY 1""")
    assert per_model and all(n == 8 for _, n in per_model)
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["assessment"]["limit"] == 8


def test_bad_assessment_input_fails_with_the_key_named(assessed, tmp_path):
    res = acdc(["assess", "--run-dir", str(assessed["run_dir"]), "--benchmarks", "mmlu_pro"], assessed["env"])
    assert res.returncode == 2 and "assessment.benchmarks" in res.stderr
    res = acdc(["assess", "--run-dir", str(tmp_path / "nothing")], assessed["env"])
    assert res.returncode == 1 and "holds no AC/DC run" in res.stderr


def test_report_draws_the_assessment(assessed, tmp_path):
    res = acdc(["report", "--run-dir", str(assessed["run_dir"]), "--out", str(tmp_path)], assessed["env"])
    assert res.returncode == 0, res.stderr[-3000:]
    page = (tmp_path / "report.html").read_text()
    assert "not assessed yet" not in page and (tmp_path / "assessment.png").stat().st_size > 10_000
    assert "task_force_greedy_2" in page and "bon_majority_vote" in page
