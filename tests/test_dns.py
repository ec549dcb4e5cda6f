"""Dominated Novelty Search on hand-made skill matrices, plus properties over random ones."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from acdc_core.dns import candidate_status, dominated_novelty_search, top_fitness_selection


def brute_force(ids, scores, capacity, k, thr=0.5):
    """Straight transcription of ALGORITHM.md step 6, for cross-checking."""
    n, t = scores.shape
    fit = scores.mean(axis=1)
    order = sorted(range(n), key=lambda i: (-fit[i], ids[i]))
    solved = scores >= thr
    d = np.array([1 - solved[:, j].mean() for j in range(t)])
    comp = {}
    for pos, m in enumerate(order):
        if pos == 0:
            comp[m] = np.inf
            continue
        dists = []
        for f in order[:pos]:
            num = sum(d[j] for j in range(t) if solved[m, j] and not solved[f, j])
            dists.append(num / d.sum() if d.sum() > 0 else 0.0)
        comp[m] = float(np.mean(sorted(dists)[:k]))
    keep = sorted(range(n), key=lambda i: (-comp[i], order.index(i)))[:capacity]
    return [ids[i] for i in keep], {ids[i]: comp[i] for i in range(n)}


def test_top_fitness_keeps_the_fitter_clone_that_dns_drops():
    ids = ["a", "b", "c"]
    scores = np.array([[1, 1, 1, 0], [1, 1, 0.9, 0], [0, 0, 0, 1.0]])
    dns = dominated_novelty_search(ids, scores, capacity=2, k=3)
    top = top_fitness_selection(ids, scores, capacity=2)
    assert dns.kept == ["a", "c"] and top.kept == ["a", "b"]
    assert top.order == dns.order and top.fitness == dns.fitness
    assert top.competition == top.fitness
    # ties in fitness go by id, as the order does
    tied = top_fitness_selection(["z", "y", "x"], np.array([[0.5, 0.5], [1.0, 0.0], [0.0, 0.0]]), capacity=2)
    assert tied.kept == ["y", "z"]
    with pytest.raises(ValueError):
        top_fitness_selection(["a"], np.zeros((1, 1)), 0)


def test_fittest_first_and_distinct_beats_fitter_clone():
    # a: best. b: clone of a's skills but slightly worse. c: weaker, but solves what a fails.
    ids = ["a", "b", "c"]
    scores = np.array([[1, 1, 1, 0], [1, 1, 0.9, 0], [0, 0, 0, 1.0]])
    res = dominated_novelty_search(ids, scores, capacity=2, k=3)
    assert res.order == ["a", "b", "c"]
    assert res.competition["a"] == np.inf
    assert res.competition["b"] == 0.0  # solves nothing a fails
    assert res.competition["c"] > 0
    assert res.kept == ["a", "c"]


def test_difficulty_weights_rare_skills():
    # Against the fittest f, m1 uniquely solves a task half the population fails; m2 uniquely
    # solves a task 3/4 fail. The rarer skill must count more.
    ids = ["f", "m1", "m2", "x"]
    scores = np.array([
        [1, 1, 0, 0, 1, 1],
        [1, 0, 1, 0, 1, 0],
        [1, 0, 0, 1, 0, 1],
        [0, 0, 1, 0, 0, 0],
    ], dtype=float)
    res = dominated_novelty_search(ids, scores, capacity=4, k=1)
    kept, comp = brute_force(ids, scores, 4, 1)
    assert res.kept == kept
    assert res.competition == pytest.approx(comp)


def test_fitness_ties_broken_by_id():
    ids = ["b", "a"]
    scores = np.array([[1.0, 0.0], [0.0, 1.0]])
    res = dominated_novelty_search(ids, scores, capacity=1)
    assert res.order == ["a", "b"]
    assert res.kept == ["a"]


def test_single_model_is_kept():
    res = dominated_novelty_search(["only"], np.array([[0.0, 1.0]]), capacity=4)
    assert res.kept == ["only"] and res.competition["only"] == np.inf


def test_all_equal_keeps_fitness_order():
    ids = ["c", "a", "b"]
    scores = np.ones((3, 4))  # everybody solves everything: all difficulty weights are 0
    res = dominated_novelty_search(ids, scores, capacity=2)
    assert res.kept == ["a", "b"]
    assert res.competition["b"] == 0.0


def test_fewer_fitter_than_k_uses_those_there_are():
    ids = ["a", "b"]
    scores = np.array([[1, 0, 0.0], [0, 1, 1.0]])
    res = dominated_novelty_search(ids, scores, capacity=2, k=3)
    # b is fitter (2/3); a against b: solves task 0 which b fails, d_0 = 0.5, total d = 1.5
    assert res.order == ["b", "a"]
    assert res.competition["a"] == pytest.approx(0.5 / 1.5)


def test_bad_input_raises():
    with pytest.raises(ValueError, match="distinct"):
        dominated_novelty_search(["a", "a"], np.zeros((2, 1)), 1)
    with pytest.raises(ValueError, match="shape"):
        dominated_novelty_search(["a"], np.zeros((2, 1)), 1)
    with pytest.raises(ValueError, match="capacity"):
        dominated_novelty_search(["a"], np.zeros((1, 1)), 0)


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 9).flatmap(lambda n: st.tuples(
        st.just(n),
        arrays(np.float64, (n, 7), elements=st.sampled_from([0.0, 1 / 3, 2 / 3, 1.0])),
        st.integers(1, 10),
        st.integers(1, 4),
    ))
)
def test_properties_against_transcription(case):
    n, scores, capacity, k = case
    ids = [f"m{i:02d}" for i in range(n)]
    res = dominated_novelty_search(ids, scores, capacity, k)
    kept, comp = brute_force(ids, scores, capacity, k)
    assert res.kept == kept
    assert res.competition == pytest.approx(comp)
    assert len(res.kept) == min(capacity, n) and len(set(res.kept)) == len(res.kept)
    assert res.order[0] in res.kept  # the fittest is always kept
    assert all(0.0 <= c <= 1.0 for m, c in res.competition.items() if m != res.order[0])


def test_candidate_status_says_what_the_update_did_with_each_model():
    status = candidate_status(previous=["a", "b", "c"], candidates=["x", "y", "z"], gibberish=["z"],
                              kept=["x", "a", "c"])
    assert status == {"a": "retained", "b": "evicted", "c": "retained", "x": "admitted", "y": "rejected",
                      "z": "gibberish"}
    assert candidate_status([], ["s1", "s2"], [], ["s2"]) == {"s1": "rejected", "s2": "admitted"}  # generation 0
    with pytest.raises(ValueError, match="did not compete"):
        candidate_status(["a"], ["z"], ["z"], ["a", "z"])  # a gibberish model cannot be kept
    with pytest.raises(ValueError, match="did not compete"):
        candidate_status(["a"], [], [], ["q"])
