"""Fast unit tests of the pure core: answers, gibberish heuristic, recipes, skills."""

import numpy as np
import pytest

from acdc_core.answers import extract_answer, submission_for
from acdc_core.config import CrossoverSection, MutationSection
from acdc_core.gibberish import compression_ratio, judge_model, judge_response, repeat_ratio
from acdc_core.recipes import (
    ChildRecipe,
    draw_merge,
    generation_rng,
    mergekit_config,
    propose_children,
    propose_initial_mutants,
)
from acdc_core.skills import skill_matrix, skill_vector, task_coverage

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
    a = draw_merge(["x", "y", "z"], cfg, None, generation_rng(7, 3))
    b = draw_merge(["x", "y", "z"], cfg, None, generation_rng(7, 3))
    assert a == b
    assert sum(a.weights) == pytest.approx(1.0)
    assert a != draw_merge(["x", "y", "z"], cfg, None, generation_rng(7, 4))


def test_task_vector_methods_need_base_and_slerp_two_parents():
    with pytest.raises(ValueError, match="base"):
        draw_merge(["x", "y"], CrossoverSection(method="ties"), None, generation_rng(0, 0))
    with pytest.raises(ValueError, match="2 parents"):
        draw_merge(["x", "y", "z"], CrossoverSection(method="slerp", parents=2), None, generation_rng(0, 0))
    r = draw_merge(["x", "y"], CrossoverSection(method="dare_ties"), "b", generation_rng(0, 0))
    cfg = mergekit_config(r, {"x": "/p/x", "y": "/p/y", "b": "/p/b"}, "bfloat16")
    assert cfg["base_model"] == "/p/b" and cfg["merge_method"] == "dare_ties"
    assert all(m["parameters"]["density"] == 0.5 for m in cfg["models"])


def test_propose_children_distinct_parents_and_fallback():
    rng = generation_rng(0, 1)
    kids = propose_children(["a", "b", "c"], 5, 1, CrossoverSection(), MutationSection(), "a", rng)
    assert len(kids) == 5 and all(len(set(k.parents)) == 2 for k in kids)
    assert all(k.operator == "linear+mutate:svd" for k in kids)
    # one archive member, two parents needed: mutation-only children (gaussian when mutation is off)
    solo = propose_children(["a"], 2, 1, CrossoverSection(), MutationSection(method="none"), "a", rng)
    assert [k.operator for k in solo] == ["mutate:gaussian"] * 2 and solo[0].source == "a"
    with pytest.raises(ValueError):
        propose_children([], 1, 1, CrossoverSection(), MutationSection(), "a", rng)


def test_initial_mutants_are_seeded_mutations_of_the_base():
    kids = propose_initial_mutants("base", 3, MutationSection(method="none"), generation_rng(0, 0))
    assert [k.operator for k in kids] == ["mutate:gaussian"] * 3 and {k.source for k in kids} == {"base"}
    assert len({k.mutation.seed for k in kids}) == 3
    assert kids == propose_initial_mutants("base", 3, MutationSection(method="none"), generation_rng(0, 0))


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
