"""Fast unit tests of the pure core: answers, gibberish heuristic, recipes, skills."""

import numpy as np
import pytest

from acdc_core.answers import extract_answer, submission_for
from acdc_core.config import CrossoverSection, MutationSection
from acdc_core.exploration import child_effects, normalise_answer
from acdc_core.gibberish import compression_ratio, judge_model, judge_response, repeat_ratio
from acdc_core.recipes import (
    Candidate,
    ChildRecipe,
    draw_merge,
    draw_method,
    mergekit_config,
    propose_children,
    propose_initial_mutants,
)
from acdc_core.rng import rng_stream
from acdc_core.skills import distinct_vectors, skill_matrix, skill_table, skill_vector, task_coverage
from acdc_core.steps import Bred, Verdict, new_children

THRESHOLDS = dict(max_repeat_ratio=0.6, min_compression_ratio=0.25, max_non_text_ratio=0.3)


@pytest.mark.parametrize("text, expected", [
    ("so the result is \\boxed{42}.", "42"),
    ("\\boxed{1} then \\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
    ("work...\n#### 17", "17"),
    ("Answer: Paris.", "Paris"),
    ("first answer: 3\nfinal Answer: **5**", "5"),
    ("The answer is: yes", "yes"),
    ("\\boxed{7} and later Answer: 9", "7"),  # boxed has priority
    ("no marker here", None),
    ("\\boxed{unclosed", None),
])
def test_extract_answer(text, expected):
    assert extract_answer(text) == expected


def test_submission_falls_back_to_whole_response():
    assert submission_for("  The capital is Paris.  ") == "The capital is Paris."
    assert submission_for("blah\nAnswer: 12") == "12"


def test_gibberish_heuristic_flags_loops_and_noise_not_prose():
    prose = "The capital of France is Paris. It is known for the Eiffel Tower and its museums."
    loop = "the cat sat " * 30
    noise = "\u2588\u2593\u2592\u2591 " * 20 + "ok"
    assert not judge_response(prose, **THRESHOLDS).is_gibberish
    assert judge_response(loop, **THRESHOLDS).is_gibberish
    assert "repeated" in judge_response(loop, **THRESHOLDS).reason
    assert judge_response(noise, **THRESHOLDS).is_gibberish
    assert judge_response("   ", **THRESHOLDS).reason == "empty response"
    assert repeat_ratio(loop) > 0.9 and repeat_ratio(prose) == 0.0
    assert compression_ratio("a" * 500) < 0.05
    # a model is gibberish when most of its responses are
    assert judge_model([loop, loop, prose], **THRESHOLDS).is_gibberish
    assert not judge_model([loop, prose, prose], **THRESHOLDS).is_gibberish
    with pytest.raises(ValueError):
        judge_model([], **THRESHOLDS)


def test_merge_weights_normalised_and_seeded():
    cfg = CrossoverSection(method="linear", weight_std=0.1)
    a = draw_merge(["x", "y", "z"], cfg, None, rng_stream(7, 3, "breeding"))
    b = draw_merge(["x", "y", "z"], cfg, None, rng_stream(7, 3, "breeding"))
    assert a == b
    assert sum(a.weights) == pytest.approx(1.0)
    assert a != draw_merge(["x", "y", "z"], cfg, None, rng_stream(7, 4, "breeding"))


def test_task_vector_methods_need_base_and_slerp_two_parents():
    with pytest.raises(ValueError, match="base"):
        draw_merge(["x", "y"], CrossoverSection(method="ties"), None, rng_stream(0, 0, "breeding"))
    with pytest.raises(ValueError, match="2 parents"):
        draw_merge(["x", "y", "z"], CrossoverSection(method="slerp", parents=2), None, rng_stream(0, 0, "breeding"))
    r = draw_merge(["x", "y"], CrossoverSection(method="dare_ties"), "b", rng_stream(0, 0, "breeding"))
    cfg = mergekit_config(r, {"x": "/p/x", "y": "/p/y", "b": "/p/b"}, "bfloat16")
    assert cfg["base_model"] == "/p/b" and cfg["merge_method"] == "dare_ties"
    assert all(m["parameters"]["density"] == 0.5 for m in cfg["models"])


def test_propose_children_distinct_parents_and_fallback():
    rng = rng_stream(0, 1, "breeding")
    kids = propose_children(["a", "b", "c"], 5, 1, CrossoverSection(), MutationSection(), "a", rng)
    assert len(kids) == 5 and all(len(set(k.parents)) == 2 for k in kids)
    assert all(k.operator == "linear+mutate:svd" for k in kids)
    # one archive member, two parents needed: mutation-only children (gaussian when mutation is off)
    solo = propose_children(["a"], 2, 1, CrossoverSection(), MutationSection(method="none"), "a", rng)
    assert [k.operator for k in solo] == ["mutate:gaussian"] * 2 and solo[0].source == "a"
    with pytest.raises(ValueError):
        propose_children([], 1, 1, CrossoverSection(), MutationSection(), "a", rng)


def test_crossover_rate_mixes_in_mutants_and_zero_means_mutation_only():
    ids = ["a", "b", "c"]
    only = propose_children(ids, 6, 1, CrossoverSection(rate=0.0), MutationSection(), "a", rng_stream(0, 1, "breeding"))
    assert all(k.merge is None and k.operator == "mutate:svd" and k.source in ids for k in only)
    half = propose_children(ids, 400, 1, CrossoverSection(rate=0.5), MutationSection(), "a", rng_stream(0, 1, "breeding"))
    assert sum(k.merge is not None for k in half) / 400 == pytest.approx(0.5, abs=0.07)
    assert all(k.merge is not None for k in propose_children(ids, 50, 1, CrossoverSection(rate=1.0),
                                                              MutationSection(), "a", rng_stream(0, 1, "breeding")))


def test_new_children_drop_known_models_and_later_siblings_with_equal_weights():
    kids = propose_initial_mutants(["base"], 4, MutationSection(), rng_stream(0, 0, "breeding"))
    bred = [Bred(Candidate(model_id=mid, recipe=k), None if mid == "known" else Verdict(mid, mid == "g", rows=[{"k": i}]))
            for i, (mid, k) in enumerate(zip(["a", "known", "a", "g"], kids))]
    made, verdicts = new_children(bred)
    assert [c.model_id for c in made] == ["a", "g"] and made[0].recipe == kids[0]  # the first "a" kept
    assert verdicts["a"].rows == [{"k": 0}] and verdicts["g"].is_gibberish and "known" not in verdicts
    assert new_children([]) == ([], {})


def test_initial_mutants_are_seeded_mutations_spread_over_the_seeds():
    seeds = ["base", "math", "code"]
    kids = propose_initial_mutants(seeds, 3, MutationSection(method="none"), rng_stream(0, 0, "breeding"))
    assert [k.operator for k in kids] == ["mutate:gaussian"] * 3 and {k.source for k in kids} == set(seeds)
    assert len({k.mutation.seed for k in kids}) == 3
    assert kids == propose_initial_mutants(seeds, 3, MutationSection(method="none"), rng_stream(0, 0, "breeding"))
    # every seed gets one before any gets a second
    many = [k.source for k in propose_initial_mutants(seeds, 7, MutationSection(), rng_stream(0, 1, "breeding"))]
    assert sorted(many[:3]) == sorted(seeds) and sorted(many[3:6]) == sorted(seeds)
    assert propose_initial_mutants(["base"], 2, MutationSection(), rng_stream(0, 0, "breeding"))[1].source == "base"
    with pytest.raises(ValueError, match="at least one seed"):
        propose_initial_mutants([], 1, MutationSection(), rng_stream(0, 0, "breeding"))


def test_method_mix_draws_each_method_in_proportion():
    cfg = CrossoverSection(method_mix={"linear": 2.0, "ties": 1.0, "dare_ties": 1.0})
    rng = rng_stream(0, 2, "breeding")
    drawn = [draw_method(cfg, rng) for _ in range(4000)]
    assert drawn.count("linear") / 4000 == pytest.approx(0.5, abs=0.03)
    assert drawn.count("ties") / 4000 == pytest.approx(0.25, abs=0.03)
    kids = propose_children(["a", "b", "c"], 40, 3, cfg, MutationSection(method="none"), "base", rng_stream(1, 3, "breeding"))
    methods = {k.merge.method for k in kids}
    assert methods == {"linear", "ties", "dare_ties"}
    assert all(k.merge.base == "base" for k in kids if k.merge.method != "linear")
    assert all(k.merge.density == 0.5 for k in kids if k.merge.method in ("ties", "dare_ties"))
    # without a mix no draw is consumed: the plain method, the same recipes as before
    rng = rng_stream(0, 0, "breeding")
    assert draw_method(CrossoverSection(method="ties"), rng) == "ties"
    assert rng.random() == rng_stream(0, 0, "breeding").random()


def test_recipe_key_ignores_slot_only():
    m = MutationSection()
    a = ChildRecipe(generation=1, index=0, source="a", mutation=None)
    b = ChildRecipe(generation=2, index=5, source="a", mutation=None)
    c = ChildRecipe(generation=1, index=0, source="b", mutation=None)
    assert a.key() == b.key() != c.key()
    assert m.svd_top_k == 256


def test_skill_matrix_vector_coverage():
    rows = [("m1", "t1", 1.0), ("m1", "t1", 0.0), ("m1", "t2", 1.0), ("m2", "t2", 0.0)]
    s = skill_matrix(rows, ["m1", "m2"], ["t1", "t2", "t3"])
    assert s.tolist() == [[0.5, 1.0, 0.0], [0.0, 0.0, 0.0]]
    assert skill_vector(s).tolist() == [[1, 1, 0], [0, 0, 0]]
    assert task_coverage(s) == pytest.approx(2 / 3)
    assert task_coverage(np.zeros((2, 0))) == 0.0


ROWS = [("m1", "t1", "0", 1.0), ("m1", "t1", "1", 0.0), ("m1", "t2", "0", 1.0),
        ("m2", "t1", "0", 0.0), ("m2", "t1", "1", 1.0), ("m2", "t2", "0", 1.0), ("m3", "t9", "0", 1.0)]


def test_skill_table_per_instance_resolves_what_the_family_mean_hides():
    fam, fcols = skill_table(ROWS, ["m1", "m2"], ["t1", "t2"], "family")
    assert fcols == ["t1", "t2"] and fam.tolist() == [[0.5, 1.0], [0.5, 1.0]]
    assert distinct_vectors(fam) == 1  # per family m1 and m2 look the same
    inst, icols = skill_table(ROWS, ["m1", "m2"], ["t1", "t2"], "instance")
    assert icols == ["t1/0", "t1/1", "t2/0"]
    assert inst.tolist() == [[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]]
    assert distinct_vectors(inst) == 2  # per instance they solve different prompts
    assert task_coverage(inst) == 1.0
    # a model without rows scores 0 on every column; tasks outside task_ids are ignored
    inst, icols = skill_table(ROWS, ["m1", "m3"], ["t1"], "instance")
    assert icols == ["t1/0", "t1/1"] and inst[1].tolist() == [0.0, 0.0]


def test_child_effects_count_answers_that_differ_and_instances_no_parent_solves():
    rows = [
        ("p1", "t", "0", "Paris", 1.0), ("p1", "t", "1", "4", 0.0), ("p1", "t", "2", "x", 0.0), ("p1", "t", "3", "a", 1.0),
        ("p2", "t", "0", "paris.", 1.0), ("p2", "t", "1", "5", 0.0), ("p2", "t", "2", "y", 0.0), ("p2", "t", "3", "b", 0.0),
        ("c", "t", "0", " PARIS ", 1.0), ("c", "t", "1", "6", 1.0), ("c", "t", "2", "x", 0.0), ("c", "t", "3", "c", 0.0),
        ("c", "t", "4", "z", 1.0),  # no parent answered instance 4: not compared
    ]
    (e,) = child_effects({"c": ("p1", "p2")}, rows)
    assert e.n_compared == 4
    assert e.differ_share == pytest.approx(2 / 4)  # t/1 and t/3 differ from both; t/0 equals after normalising
    assert e.new_solved == ("t/1",) and e.lost_solved == ("t/3",)
    (m,) = child_effects({"c": ("p1",)}, rows)  # a mutant of p1 alone
    assert m.new_solved == ("t/1",) and m.differ_share == pytest.approx(2 / 4)
    (none,) = child_effects({"q": ("p1",)}, rows)
    assert none.n_compared == 0 and none.differ_share == 0.0
    assert normalise_answer("  'Hello   World'. ") == "hello world" and normalise_answer(None) == ""


def test_random_streams_are_named_separate_and_keep_the_runs_keys():
    a = rng_stream(4, 2, "breeding").random(3)
    assert (a == rng_stream(4, 2, "breeding").random(3)).all()  # a pure function of its key
    others = [rng_stream(4, 2, s).random(3) for s in ("gibberish", "adaptation")] + [rng_stream(4, 3, "breeding").random(3)]
    assert all(not np.allclose(a, o) for o in others)
    # the keys earlier runs drew from, so that they resume bit for bit
    for stream, tail in (("breeding", []), ("gibberish", [1]), ("adaptation", [7])):
        assert (rng_stream(4, 2, stream).random(3) == np.random.default_rng([4, 2, *tail]).random(3)).all()
    with pytest.raises(KeyError, match="unknown random stream 'mutation'.*adaptation"):
        rng_stream(4, 2, "mutation")
