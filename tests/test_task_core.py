"""Pure core of task coevolution: pass rates, the adaptation plan, pool cap, novelty arithmetic,
Vendi / HDBSCAN wrappers, reply parsing and family validation."""

import numpy as np
import pytest

from acdc_core.adaptation import (
    UNSOLVABLE,
    AdaptationPlan,
    Admission,
    choose_operation,
    conclude_adaptation,
    discriminating_share,
    pass_rates,
    plan_adaptation,
    proposal_verdict,
    prune_oldest,
    settle_pool,
    unsolved_streaks,
)
from acdc_core.adapters.sandbox import Sandbox, SandboxLimits
from acdc_core.diversity import clusters, vendi
from acdc_core.novelty import nearest, novel_mask
from acdc_core.scientist.base import TaskRequest
from acdc_core.scientist.llm import parse_yes_no
from acdc_core.scientist.replies import extract_code
from acdc_core.taskfamily import TaskFamily, TaskFamilyError, TaskSet, family_from_code
from acdc_core.validation import calls_judge, validate_family

SCORES = [("a", "t1", "0", 1.0), ("a", "t1", "1", 0.0), ("b", "t1", "0", 1.0), ("b", "t1", "1", 1.0),
          ("a", "t2", "0", 0.0), ("b", "t2", "0", 0.0), ("a", "t3", "0", 1.0), ("b", "t3", "0", 1.0)]


def test_pass_rates_per_family_and_per_instance():
    fam = pass_rates(SCORES, ["a", "b"], ["t1", "t2", "t3"], 0.75, "family")
    assert fam == {"t1": 0.5, "t2": 0.0, "t3": 1.0}  # a's mean on t1 is 0.5 < 0.75
    inst = pass_rates(SCORES, ["a", "b"], ["t1", "t2", "t3"], 0.75, "instance")
    assert inst == {"t1": 0.75, "t2": 0.0, "t3": 1.0}  # 3 of 4 (model, instance) pairs of t1
    # a model without rows fails every instance; no models: 0
    assert pass_rates(SCORES, ["a", "b", "c"], ["t3"], 0.5, "instance") == {"t3": pytest.approx(2 / 3)}
    assert pass_rates(SCORES, [], ["t1"]) == {"t1": 0.0}
    assert pass_rates(SCORES, ["a"], ["t9"]) == {"t9": 0.0}
    assert discriminating_share(fam) == pytest.approx(1 / 3)
    assert discriminating_share({}) == 0.0


def test_choose_operation_follows_the_reference_rule():
    rng = np.random.default_rng(0)
    assert choose_operation(0.9, rng, 0.5, 0.0, 0.2) == "harder"
    assert choose_operation(0.1, rng, 0.5, 0.2, 0.2) == "easier"
    ops = [choose_operation(0.3, rng, 0.5, 0.0, 0.2) for _ in range(2000)]
    assert set(ops) == {"novel_related", "novel_new"}
    assert ops.count("novel_new") / len(ops) == pytest.approx(0.2, abs=0.03)


def _families(*names: str) -> TaskSet:
    return TaskSet(families=tuple(TaskFamily(task_id=f"id-{n}", name=n, code=f"# {n}", description="d", capability="c",
                                             domain="x") for n in names))


def test_plan_drops_unsolved_and_samples_only_solved_parents():
    active = _families("easy", "mid", "never")
    rates = {"id-easy": 1.0, "id-mid": 0.4, "id-never": 0.0}
    plan = plan_adaptation(active, rates, 10, np.random.default_rng(3), 5, ["easy", "mid", "never"])
    assert plan.dropped == ["id-never"]
    assert len(plan.requests) == 10 and len({r.request_id for r in plan.requests}) == 10
    for r in plan.requests:
        assert r.parent["task_id"] != "id-never"
        assert r.operation == ("harder" if r.parent["task_id"] == "id-easy" else r.operation)
        assert r.operation != "harder" or r.parent["pass_rate"] > 0.5
        assert r.known_names == ("easy", "mid", "never")
    again = plan_adaptation(active, rates, 10, np.random.default_rng(3), 5, [])
    assert [(r.parent["task_id"], r.operation, r.seed) for r in again.requests] == \
        [(r.parent["task_id"], r.operation, r.seed) for r in plan.requests]
    # without replacement while the pool lasts
    two = plan_adaptation(active, rates, 2, np.random.default_rng(0), 5, [])
    assert {r.parent["task_id"] for r in two.requests} == {"id-easy", "id-mid"}
    assert plan_adaptation(active, {}, 4, np.random.default_rng(0), 5, []).requests == []


def test_unsolved_tasks_are_dropped_only_after_k_adaptations_in_a_row():
    active = _families("easy", "new", "old")
    rates = {"id-easy": 0.8, "id-new": 0.0, "id-old": 0.0}
    streaks = unsolved_streaks([(2, "id-old"), (4, "id-old"), (2, "id-gone")], previous_adaptations=[2, 4])
    assert streaks == {"id-old": 2}  # id-gone was solved at 4: its streak broke
    plan = plan_adaptation(active, rates, 4, np.random.default_rng(1), 6, [], streaks=streaks, drop_after=3)
    assert plan.dropped == ["id-old"] and plan.unsolved_kept == ["id-new"]
    # a kept unsolved task may be a parent; with easier_below on it is rewritten easier
    plan = plan_adaptation(active, rates, 3, np.random.default_rng(1), 6, [], easier_below=0.2,
                           streaks=streaks, drop_after=3)
    assert {r.parent["task_id"] for r in plan.requests} == {"id-easy", "id-new"}
    assert all(r.operation == "easier" for r in plan.requests if r.parent["task_id"] == "id-new")
    # the reference rule: dropped at once
    assert plan_adaptation(active, rates, 2, np.random.default_rng(1), 6, []).dropped == ["id-new", "id-old"]


def test_drops_below_the_floor_ask_for_novel_refills():
    active = _families("a", "b", "c", "d")
    rates = {"id-a": 0.7, "id-b": 0.0, "id-c": 0.0, "id-d": 0.3}
    plan = plan_adaptation(active, rates, 3, np.random.default_rng(2), 4, [], min_pool=4)
    assert plan.dropped == ["id-b", "id-c"]
    assert len(plan.requests) == 5
    assert all(r.operation in ("novel_related", "novel_new") for r in plan.requests[3:])
    assert all(r.parent["task_id"] in ("id-a", "id-d") for r in plan.requests)
    assert len(plan_adaptation(active, rates, 3, np.random.default_rng(2), 4, [], min_pool=0).requests) == 3


def test_settle_pool_holds_the_floor_and_caps_the_pool():
    active = [("s1", 0), ("s2", 0), ("n1", 2), ("n2", 4)]
    # two drops, one admitted: the floor of 4 keeps the newest dropped task
    c = settle_pool(active, dropped=["s1", "n1"], replaced=[], admitted=[("x", 6)], min_pool=4, pool_cap=10)
    assert c.held == ["n1"] and c.dropped == ["s1"] and c.pruned == []
    # enough admitted: every drop goes
    c = settle_pool(active, ["s1", "n1"], [], [("x", 6), ("y", 6)], min_pool=4, pool_cap=10)
    assert c.held == [] and c.dropped == ["s1", "n1"]
    # a replaced parent is gone whatever the floor; the cap prunes the oldest, and the floor
    # never exceeds the cap
    c = settle_pool(active, [], ["n2"], [("x", 6), ("y", 6), ("z", 6)], min_pool=0, pool_cap=4)
    assert c.pruned == ["s1", "s2"]
    c = settle_pool(active, ["s1", "s2", "n1"], [], [], min_pool=10, pool_cap=3)
    assert c.held == ["n1", "s1"] and c.dropped == ["s2"] and c.pruned == []


def test_proposal_verdict_checks_validity_then_novelty_then_solvability():
    assert proposal_verdict("no score()", "not_novel", "close", 0.0) == ("invalid", "no score()")
    assert proposal_verdict(None, "not_novel", "too close to t1", 0.0) == ("not_novel", "too close to t1")
    assert proposal_verdict(None, None, None, 0.0) == ("impossible", UNSOLVABLE)
    assert proposal_verdict(None, None, None, 0.25) == ("admitted", None)


def test_conclude_adaptation_retires_replaced_and_dropped_restores_and_prunes():
    def request(rid, op, parent):
        return TaskRequest(rid, op, {"task_id": parent}, 0, ())

    plan = AdaptationPlan(dropped=["id-old"], unsolved_kept=["id-new"], requests=[
        request("r0", "harder", "id-a"), request("r1", "easier", "id-b"), request("r2", "novel_new", "id-c"),
        request("r3", "novel_related", "id-c")])
    active = [("id-old", 0), ("id-a", 0), ("id-b", 2), ("id-c", 4), ("id-new", 4)]
    admitted = [Admission("t-x", "x", "harder", "id-a"), Admission("t-y", "y", "novel_new", "id-c")]
    final = {"r0": "admitted", "r1": "impossible", "r2": "admitted", "r3": "not_novel"}
    out = conclude_adaptation(6, active, plan, admitted, final, n_reflections=2, streaks={"id-new": 1},
                              drop_after=3, n_parents=3, min_pool=0, pool_cap=3)
    assert [(e["task_id"], e["event"]) for e in out.events] == [
        ("id-a", "replaced"), ("id-old", "dropped_unsolved"), ("id-new", "unsolved"), ("id-b", "restored"),
        ("id-b", "pruned"), ("id-c", "pruned")]
    assert all(e["generation"] == 6 for e in out.events)
    assert "x" in out.events[0]["detail"] and "2 of 3" in out.events[2]["detail"]
    # left: id-b, id-c, id-new + t-x, t-y: 5 over a cap of 3, so the oldest two go (id-b from
    # generation 2, then id-c, first of generation 4 in pool order)
    assert out.deactivate == ["id-a", "id-old", "id-b", "id-c"]
    assert out.stats == {
        "tasks_proposed": 4, "tasks_admitted": 2, "tasks_rejected_invalid": 0, "tasks_rejected_not_novel": 1,
        "tasks_rejected_impossible": 1, "tasks_reflections": 2, "tasks_dropped_unsolved": 1,
        "tasks_unsolved_kept": 1, "tasks_refill_requests": 1, "tasks_replaced": 1, "tasks_pruned": 2}


def test_prune_oldest_first():
    pool = [("s1", 0), ("s2", 0), ("n1", 5), ("n2", 10), ("n3", 10)]
    assert prune_oldest(pool, 3) == ["s1", "s2"]
    assert prune_oldest(pool, 5) == []
    assert prune_oldest(pool, 1) == ["s1", "s2", "n1", "n2"]


def test_nearest_and_novel_mask():
    hist = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    nb = nearest(np.array([[2.0, 0.1]]), hist, k=2)[0]
    assert nb.indices == (0, 2) and nb.similarities[0] == pytest.approx(0.99875, abs=1e-4)
    assert nearest(np.array([[1.0, 0.0]]), np.zeros((0, 2)), 3)[0].indices == ()
    cands = np.array([[-1.0, 0.0], [-1.0, 0.01], [1.0, 0.02], [1.0, 0.0]])
    flags, found = novel_mask(cands, hist, max_similarity=0.95, k=3, check=[True, True, True, False])
    # the second is a near-copy of the first accepted candidate; the third is close to history;
    # the fourth is not checked (a harder rewrite) but still joins the pool
    assert flags == [True, False, False, True]
    assert found[1].indices[0] == 3  # index past the history: the first accepted candidate


def test_vendi_counts_distinct_directions_and_hdbscan_finds_clusters():
    rng = np.random.default_rng(0)
    same = np.repeat(rng.normal(size=(1, 8)), 10, axis=0)
    assert vendi(same) == pytest.approx(1.0)
    assert vendi(np.eye(6)) == pytest.approx(6.0)
    assert vendi(np.zeros((0, 4))) == 0.0
    centres = np.eye(8)[:3] * 5
    x = np.vstack([c + rng.normal(scale=0.05, size=(12, 8)) for c in centres])
    n, labels = clusters(x, min_cluster_size=4)
    assert n == 3 and len(set(labels[:12])) == 1 and labels[0] != labels[12]
    assert clusters(x[:2], 3)[0] == 0


def test_extract_code_takes_the_family_block():
    reply = ("Here is a task.\n```python\nprint('helper')\n```\nAnd the family:\n"
             "```python\nMETADATA = {}\nclass TaskFamily:\n    pass\n```\nDone.")
    assert extract_code(reply).startswith("METADATA") and "class TaskFamily" in extract_code(reply)
    assert extract_code("```\nclass TaskFamily: pass\n") == "class TaskFamily: pass"  # cut by max_tokens
    assert extract_code("class TaskFamily: pass") == "class TaskFamily: pass"
    with pytest.raises(TaskFamilyError, match="empty"):
        extract_code("  \n")


def test_parse_yes_no():
    assert parse_yes_no("Reasoning...\nYes") is True
    assert parse_yes_no("It restates task 2.\n**No.**") is False
    assert parse_yes_no("Answer: yes") is True
    assert parse_yes_no("maybe") is None


GOOD = '''
METADATA = {"name": "double_it", "description": "Double a number.", "capability": "arithmetic", "domain": "math"}

class TaskFamily:
    @staticmethod
    def get_tasks():
        return {str(i): {"x": i, "answer": str(2 * i)} for i in range(1, 6)}
    @staticmethod
    def get_instructions(t):
        return f"What is 2 times {t['x']}?"
    @staticmethod
    def score(t, submission):
        return float(submission.strip() == t["answer"])
'''


@pytest.fixture(scope="module")
def sandbox():
    return Sandbox(SandboxLimits(timeout_s=5, memory_mb=512))


def _validate(code, sandbox, **kw):
    args = dict(origin="novel_new", parent_id="p", known_ids=set(), known_names=set(), max_instances=3,
                min_instances=2, judge_available=False)
    return validate_family(code, sandbox, **{**args, **kw})


@pytest.mark.parametrize("code, message", [
    ("def broken(:", "not valid Python"),
    ("class TaskFamily: pass", "no METADATA"),
    (GOOD.replace("range(1, 6)", "range(1, 2)"), "at least 2"),
    (GOOD.replace('return float(submission.strip() == t["answer"])', "return 1.0"), "empty answer"),
    (GOOD.replace('return float(submission.strip() == t["answer"])', "return float(submission == 'x')"),
     "own 'answer'"),
    (GOOD.replace('return float(submission.strip() == t["answer"])', "return 1 / 0"), "crashed.*ZeroDivision"),
    (GOOD.replace("return f\"What is 2 times {t['x']}?\"", "return '  '"), "empty for instances"),
    (GOOD.replace("return {str(i)", "while True: pass\n        return {str(i)"), "sandbox failed: timed out"),
    (GOOD.replace('return float(submission.strip() == t["answer"])',
                  'return float(eval_with_llm_judge("q", submission, "c"))'), "no LLM judge configured"),
])
def test_validation_names_the_failed_check(sandbox, code, message):
    with pytest.raises(TaskFamilyError, match=message):
        _validate(code, sandbox)


def test_validation_accepts_a_good_family_and_refuses_duplicates(sandbox):
    ok = _validate(GOOD, sandbox)
    assert ok.name == "double_it" and ok.origin == "novel_new" and ok.parent_id == "p"
    assert sorted(ok.instances) == ["1", "2", "3"] and ok.instances["2"].task["x"] == 2
    with pytest.raises(TaskFamilyError, match="already exists"):
        _validate(GOOD, sandbox, known_ids={ok.task_id})
    with pytest.raises(TaskFamilyError, match="name 'double_it' is taken"):
        _validate(GOOD, sandbox, known_names={"double_it"})
    assert calls_judge(GOOD.replace("float(", "eval_with_llm_judge(")) and not calls_judge(GOOD)
    assert family_from_code(GOOD).task_id == ok.task_id


def test_a_task_set_is_typed_from_storage_rows_and_narrows_to_named_instances():
    rows = [{"task_id": "t2", "name": "b", "code": "#", "description": "d", "capability": "c", "domain": "x",
             "created_generation": 3, "active": True,  # storage's extra keys are ignored
             "instances": {"1": {"task": {"n": 1}, "instructions": "one"}, "0": {"task": [0], "instructions": "zero"}}},
            {"task_id": "t1", "name": "a", "code": "#", "description": "d", "capability": "c", "domain": "x",
             "created_generation": 0, "instances": {"0": {"task": None, "instructions": "only"}}}]
    tasks = TaskSet.from_rows(rows)
    assert tasks.ids == ["t2", "t1"] and len(tasks) == 2 and tasks.n_instances == 3
    assert [(f.task_id, i, inst.instructions) for f, i, inst in tasks.instances()] == [
        ("t2", "0", "zero"), ("t2", "1", "one"), ("t1", "0", "only")]  # family order kept, instances by id
    assert tasks.by_id()["t2"].created_generation == 3 and tasks.by_id()["t2"].instances["1"].task == {"n": 1}
    assert tasks.hash == TaskSet(families=tuple(reversed(tasks.families))).hash  # order-free
    assert tasks.hash != TaskSet(families=tasks.families[:1]).hash
    narrow = tasks.only({"t1": ["0"], "t2": ["1"]})
    assert narrow.ids == ["t1", "t2"] and [i for _, i, _ in narrow.instances()] == ["0", "1"]
    assert not TaskSet() and TaskSet().n_instances == 0
    assert dict(tasks) == {"families": tasks.families}  # iterates as a pydantic model: Prefect visits results so
    with pytest.raises(KeyError):
        tasks.only({"t1": ["9"]})
    with pytest.raises(ValueError):
        TaskSet.from_rows([{**rows[0], "instances": {"0": {"task": 1}}}])  # an instance without instructions
