"""Held-out instances and the noise floor: the pure core (acdc_core.transfer), the sandbox's
re-seeded draw, and sampled decoding on a real pico model."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acdc_core.adapters.backends import load_backend
from acdc_core.adapters.sandbox import Sandbox, SandboxLimits
from acdc_core.assessment.selection import greedy_max_coverage
from acdc_core.assessment.transfer_sets import transfer_sets
from acdc_core.taskfamily import TaskFamily, TaskSet
from acdc_core.transfer import (
    credited_rows,
    heldout_coverage,
    mean_interval,
    noise_floor,
    pick_heldout,
    replicate,
    split_sample,
)


def _drawn(*texts: str) -> dict:
    return {str(i): {"task": {"i": i}, "instructions": t} for i, t in enumerate(texts)}


def test_heldout_instances_are_disjoint_from_selection_distinct_and_prefixed():
    drawn = _drawn("q1", "q2", "q2 ", "q3", "q4", "q5")
    out = pick_heldout(["q1", "q3"], drawn, 2)
    assert list(out) == ["h1", "h4"]  # q1, q3 are selection instances; "q2 " repeats q2
    assert [v["instructions"] for v in out.values()] == ["q2", "q4"]
    assert pick_heldout(["a", "b"], _drawn("a", "b"), 3) == {}  # a generator with nothing else gives none
    assert list(pick_heldout([], _drawn(*"abcdefghijkl"), 12)) == [f"h{i}" for i in range(12)]  # id order 2 < 10


def test_replicated_ids_split_back_to_instance_and_sample():
    fam = TaskFamily(task_id="t", name="t", code="", description="", capability="", domain="").with_instances(
        {"h0": {"task": 1, "instructions": "a"}, "h1#x": {"task": 2, "instructions": "b"}})
    rep = replicate(TaskSet(families=(fam,)), 3)
    ids = sorted(rep.families[0].instances)
    assert len(ids) == 6 and sorted(split_sample(i) for i in ids) == sorted(
        (i, k) for i in ("h0", "h1#x") for k in (1, 2, 3))
    assert split_sample("h1#x") == ("h1#x", 0) and split_sample("7") == ("7", 0)


def test_heldout_coverage_of_archive_and_seeds():
    keys = {"t/h0", "t/h1", "u/h0", "u/h1"}
    rows = [("a", "t", "h0", 1.0), ("b", "t", "h1", 0.6), ("s", "t", "h0", 1.0), ("s", "u", "h1", 0.4),
            ("a", "t", "0", 1.0)]  # a selection instance: not held out, not counted
    cov = heldout_coverage(rows, keys, ["a", "b"], ["s"], 0.5)
    assert (cov.n, cov.archive, cov.seeds, cov.beyond_seeds) == (4, 0.5, 0.25, 1)
    assert cov.metrics()["coverage_heldout"] == 0.5
    assert heldout_coverage([], set(), ["a"], ["s"], 0.5).archive == 0.0


def test_noise_floor_counts_only_the_childs_own_parents_samples():
    found = {"c1": ("t/0", "t/1"), "c2": ("t/1",)}
    parents = {"c1": ("p", "q"), "c2": ("r",)}
    sampled = [("p", "t", "0", 1.0), ("p", "t", "0", 0.0), ("q", "t", "0", 1.0),  # c1's parents reach t/0 twice
               ("r", "t", "1", 0.0), ("r", "t", "1", 0.0),  # c2's parent never reaches t/1
               ("x", "t", "1", 1.0)]  # not a parent of anyone
    nf = noise_floor(found, parents, sampled, samples=2, threshold=0.5)
    assert nf.reached["t/0"] == 2 and nf.reached["t/1"] == 0
    assert nf.survivors("c1") == ("t/1",) and nf.noise("c1") == ("t/0",)
    assert nf.metrics() == {"children_new_robust": 1, "new_survive_share": 0.5}
    assert noise_floor(found, parents, sampled, samples=0, threshold=0.5).metrics() == {}


def test_credited_rows_drop_only_the_noise_of_the_child_that_claimed_it():
    nf = noise_floor({"c": ("t/0",)}, {"c": ("p",)}, [("p", "t", "0", 1.0)], 1, 0.5)
    rows = [("c", "t", "0", 1.0), ("c", "t", "1", 1.0), ("p", "t", "0", 0.0), ("d", "t", "0", 1.0)]
    assert credited_rows(rows, nf) == [("c", "t", "0", 0.0), ("c", "t", "1", 1.0), ("p", "t", "0", 0.0),
                                       ("d", "t", "0", 1.0)]


def test_mean_interval_is_student_t():
    mean, lo, hi = mean_interval([1.0, 2.0, 3.0])
    assert mean == 2.0 and hi - mean == pytest.approx(4.302653 / np.sqrt(3), rel=1e-5) and lo == 4.0 - hi
    assert mean_interval([0.4]) == (0.4, 0.4, 0.4)
    assert all(np.isnan(mean_interval([])))


def _sets(rng: np.random.Generator, n_models: int = 7, n_hist: int = 12, n_held: int = 10) -> dict:
    pool = [f"m{i}" for i in range(n_models)]
    select = rng.random((n_models, n_hist)) < 0.3
    held = rng.random((n_models, n_held)) < 0.3
    sampled = rng.random((8, n_held)) < 0.2
    sets = transfer_sets(pool, ["m0", "m1"], pool[1:5], pool[2:5], select, select, held, sampled, [3])
    return {"pool": pool, "select": select, "held": held, "sampled": sampled, "sets": {s["set_name"]: s for s in sets}}


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_seeded_task_force_never_covers_less_than_the_seeds(seed):
    s = _sets(np.random.default_rng(seed))["sets"]
    assert s["task_force_seeded_3"]["members"][:2] == ["m0", "m1"]
    assert s["task_force_seeded_3"]["coverage_heldout"] >= s["seeds"]["coverage_heldout"]
    assert s["task_force_seeded_3"]["coverage_history"] >= s["seeds"]["coverage_history"]


def test_transfer_sets_choose_on_the_history_and_cross_fit_on_held_out():
    d = _sets(np.random.default_rng(3))
    s, held = d["sets"], d["held"]
    want = [d["pool"][i] for i in greedy_max_coverage(d["select"], 3)]
    assert s["task_force_3"]["members"] == want
    rows = [d["pool"].index(m) for m in want]
    assert s["task_force_3"]["coverage_heldout"] == pytest.approx(held[rows].any(axis=0).mean())
    even, odd = np.arange(held.shape[1]) % 2 == 0, np.arange(held.shape[1]) % 2 == 1
    a, b = greedy_max_coverage(held[:, even], 3), greedy_max_coverage(held[:, odd], 3)
    solved = held[np.ix_(a, np.flatnonzero(odd))].any(axis=0).sum() + held[np.ix_(b, np.flatnonzero(even))].any(
        axis=0).sum()
    assert s["task_force_heldout_3"]["coverage_heldout"] == pytest.approx(solved / held.shape[1])
    assert s["best_seed_sampled_3"]["coverage_heldout"] == pytest.approx(d["sampled"][:3].any(axis=0).mean())
    assert s["best_seed_sampled_3"]["coverage_history"] is None
    assert s["ever_archived"]["members"] == d["pool"][1:5] and s["archive_final"]["members"] == d["pool"][2:5]


SEEDED = '''
import random
METADATA = {"name": "seeded", "description": "d", "capability": "c", "domain": "d"}
class TaskFamily:
    @staticmethod
    def get_tasks():
        rng = random.Random(1234)
        return {str(i): {"a": rng.randint(0, 10**9)} for i in range(6)}
    @staticmethod
    def get_instructions(t):
        return f"What is {t['a']}?"
    @staticmethod
    def score(t, s):
        return 1.0
'''
GLOBAL = SEEDED.replace("rng = random.Random(1234)", "random.seed(99); rng = random")
FIXED = SEEDED.replace("rng.randint(0, 10**9)", "i")


def test_the_sandbox_redraws_a_familys_own_generator_on_another_seed():
    sb = Sandbox(SandboxLimits(timeout_s=10))
    for code in (SEEDED, GLOBAL):
        own, again = sb.instances(code, 6), sb.instances(code, 6, draw=0)
        one, one_again, two = sb.instances(code, 6, draw=1), sb.instances(code, 6, draw=1), sb.instances(code, 6, draw=2)
        assert own == again and one == one_again  # deterministic
        assert not {v["instructions"] for v in one.values()} & {v["instructions"] for v in own.values()}
        assert one != two
    assert sb.instances(FIXED, 6, draw=1) == sb.instances(FIXED, 6)  # no randomness: the same instances


@pytest.fixture(scope="module")
def backend(pico_family):
    b = load_backend("hf", str(pico_family["base"]), batch_size=8, torch_threads=1)
    yield b
    b.close()


def test_sampled_decoding_repeats_with_its_seed_and_differs_across_draws(backend):
    prompts = ["Count to three.", "Name a colour."] * 4
    greedy = [g.text for g in backend.generate(prompts, 8)]
    assert [g.text for g in backend.generate(prompts, 8, temperature=0.0, seed=5)] == greedy
    a = [g.text for g in backend.generate(prompts, 8, temperature=1.0, seed=5)]
    assert a == [g.text for g in backend.generate(prompts, 8, temperature=1.0, seed=5)]
    assert a != [g.text for g in backend.generate(prompts, 8, temperature=1.0, seed=6)]
    assert len(set(a[0::2])) > 1  # one prompt repeated in the batch gets independent draws
