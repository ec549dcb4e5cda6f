"""The scientist's reflection rounds as a pure state machine (acdc_core.reflection)."""

from __future__ import annotations

from acdc_core.reflection import CheckedReply, NoveltyVerdict, Reflection
from acdc_core.taskfamily import TaskFamily


def _request(rid: str, operation: str = "harder") -> dict:
    return {"request_id": rid, "operation": operation, "parent": {"task_id": "p1"}, "known_names": ["p1_name"]}


def _family(tid: str, name: str) -> TaskFamily:
    return TaskFamily(task_id=tid, name=name, code=f"# {name}", description="d", capability="c",
                      domain="x").with_instances({"0": {"task": {"answer": "1"}, "instructions": "say 1"}})


def _checked(family: TaskFamily | None, error: str | None) -> CheckedReply:
    return CheckedReply(error, family if error is None else None, family.task_id if family else None,
                        family.name if family else None)


def _start(rounds: int = 1) -> Reflection:
    history = [{"task_id": "p1", "name": "p1_name", "code": "# p1"}]
    return Reflection.start(4, rounds, [_request("r0"), _request("r1", "novel"), _request("r2")], history,
                            [{"task_id": "p1", "embedding": [1.0, 0.0]}], ["m1", "m2"], 0.5, "instance")


def test_a_round_admits_what_passes_and_sends_back_the_invalid_and_the_impossible():
    state = _start()
    assert state.asked_attempts() == (None, None) and not state.done
    good, hard, bad = _family("t_good", "good"), _family("t_hard", "hard"), None
    checked = [_checked(good, None), _checked(hard, None), _checked(bad, "no METADATA")]
    valid = state.valid(checked)
    assert valid == [0, 1]
    novelty = [NoveltyVerdict(None, None, 0.3, ["p1"])] * 2
    cands = state.candidates(checked, valid, novelty)
    assert sorted(cands.ids) == ["t_good", "t_hard"]
    rows = [{"model_id": "m1", "task_id": "t_good", "instance_id": "0", "score": 1.0},
            {"model_id": "m2", "task_id": "t_good", "instance_id": "0", "score": 0.0},
            {"model_id": "m1", "task_id": "t_hard", "instance_id": "0", "score": 0.0},
            {"model_id": "m2", "task_id": "t_hard", "instance_id": "0", "score": 0.0}]
    emb = [{"task_id": "t_good", "embedding": [0.0, 1.0]}, {"task_id": "t_hard", "embedding": [0.5, 0.5]}]
    # the novelty filter is asked about the valid replies, with their own requests' operations
    assert state.novelty_query(valid, emb) == ([[0.0, 1.0], [0.5, 0.5]], ["harder", "novel"])
    report = state.conclude_round(["g", "h", "b"], checked, valid, emb, novelty, rows, cands)

    assert (report.round, report.replies, report.valid, report.admitted, report.retried) == (0, 3, 2, 1, 2)
    assert [p["status"] for p in state.proposals] == ["admitted", "impossible", "invalid"]
    assert [p["max_similarity"] for p in state.proposals] == [0.3, 0.3, None]
    assert [a.task.task_id for a in state.admitted] == ["t_good"]
    assert state.admitted[0].evaluations == rows[:2]
    assert "t_good" in state.known_ids and "good" in state.known_names and "t_good" in state.vectors
    assert {h["task_id"] for h in state.novelty_history()} == {"p1", "t_good"}
    assert state.final == {"r0": "admitted"}
    assert [r["request_id"] for r in state.pending] == ["r1", "r2"]
    # the rejected names are never proposed again; the admitted one is known
    assert state.pending[0]["known_names"] == ["p1_name", "good", "hard"]
    attempts, errors = state.asked_attempts()
    assert attempts == ["h", "b"] and errors[0].startswith("no archive model solves") and errors[1] == "no METADATA"

    # the last round: what fails again is final, nothing is pending
    again = [_checked(None, "still broken"), _checked(None, "no METADATA")]
    state.conclude_round(["h2", "b2"], again, [], [], [], [], state.candidates(again, [], []))
    assert state.done and state.pending == [] and state.reflections == 2
    assert state.final == {"r0": "admitted", "r1": "invalid", "r2": "invalid"}


def test_no_reflection_rounds_make_every_first_verdict_final():
    state = _start(rounds=0)
    checked = [_checked(None, "bad")] * 3
    state.conclude_round(["a", "b", "c"], checked, [], [], [], [], state.candidates(checked, [], []))
    assert state.done and state.final == {"r0": "invalid", "r1": "invalid", "r2": "invalid"}
    assert state.reflections == 0
