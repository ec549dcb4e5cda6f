"""The seed experts' data: reproducible, correct answers, never a run's task instance."""

from __future__ import annotations

import re

import pytest

from acdc_core.adapters.sandbox import Sandbox
from acdc_core.expert_data import SKILLS, ExpertItem, generate, held_out, run_program, score_response, training_items
from acdc_core.taskfamily import seed_families


def test_generation_is_reproducible_and_seeded():
    for skill in SKILLS:
        a, b = generate(skill, 50, seed=3), generate(skill, 50, seed=3)
        assert a == b
        assert len({i.instructions for i in a}) == 50
        assert a != generate(skill, 50, seed=4)


def test_math_working_and_answers_are_computed_right():
    for item in generate("math", 300, seed=0):
        *work, last = item.completion.split("\n")
        assert last == f"Answer: {item.answer}"
        equations = re.findall(r"(\d+) ([-+*/]) (\d+) = (\d+)", work[0])
        assert equations, item.completion
        for x, op, y, z in equations:
            assert eval(f"{x} {op} {y}") == int(z)  # noqa: S307 - our own digits
        assert equations[-1][3] == item.answer
        assert all(n in item.instructions for n in re.findall(r"\d+", item.instructions))


def test_code_answers_are_what_the_program_prints():
    items = generate("code", 200, seed=0)
    assert len({i.instructions.split("\n")[2] for i in items}) > 15  # many templates in use
    for item in items:
        code = item.instructions.split("```python\n", 1)[1].rsplit("\n```", 1)[0]
        assert run_program(code) == item.answer
        assert item.completion == f"Answer: {item.answer}"


def test_excluded_instructions_are_never_generated():
    first = generate("math", 20, seed=0)
    again = generate("math", 20, seed=0, exclude=[i.instructions for i in first[:5]])
    assert not {i.instructions for i in again} & {i.instructions for i in first[:5]}
    assert again[:15] == first[5:]


def test_held_out_is_disjoint_from_training():
    train = generate("code", 600, seed=0)
    test = held_out("code", 200, train)
    assert len(test) == 200
    assert not {i.instructions for i in test} & {i.instructions for i in train}


def test_training_items_mix_replay_from_the_other_skills():
    own, replay = training_items("math", 96, 0.2, data_seed=1)
    assert len(own) == 96 and all(i.skill == "math" for i in own)
    # 24 replay prompts, 4 from each other skill and 4 general questions
    assert len(replay) == 24
    assert {s: sum(i.skill == s for i in replay) for s in {i.skill for i in replay}} == \
        {"code": 4, "strings": 4, "lists": 4, "logic": 4, "sequences": 4, "general": 4}
    assert training_items("code", 80, 0.0, data_seed=1)[1] == []


@pytest.mark.parametrize("skill", ["strings", "lists", "logic", "sequences", "general"])
def test_new_skills_answer_their_own_questions(skill):
    """The reference completion scores 1 and a wrong one 0; answers are computed, not guessed."""
    items = generate(skill, 300, seed=5)
    assert len({i.instructions for i in items}) == 300
    for item in items:
        assert item.completion.rsplit("\n", 1)[-1] == f"Answer: {item.answer}"
        assert score_response(item, item.completion) == 1.0
        assert score_response(item, "Answer: zzz 999") == 0.0


def test_string_list_logic_and_sequence_answers_are_right():
    for item in generate("strings", 200, seed=1):
        word = re.findall(r"'([a-z]+)'", item.instructions)[0]
        if "backwards" in item.instructions:
            assert item.answer == word[::-1]
        elif "upper case" in item.instructions:
            assert item.answer == word.upper()
        elif "Count the letters" in item.instructions:
            assert item.answer == str(len(word))
    for item in generate("lists", 200, seed=1):
        xs = [int(x) for x in re.findall(r"\[(.*?)\]", item.instructions)[0].split(", ")]
        if "biggest" in item.instructions:
            assert item.answer == str(max(xs))
        elif "Add up" in item.instructions:
            assert item.answer == str(sum(xs))
        elif "increasing" in item.instructions:
            assert item.answer == ", ".join(map(str, sorted(xs)))
    for item in generate("logic", 200, seed=1):
        if "odd or even" in item.instructions:
            n = int(re.findall(r"\d+", item.instructions)[0])
            assert item.answer == ("odd" if n % 2 else "even")
        elif "smaller than" in item.instructions:
            a, b = map(int, re.findall(r"\d+", item.instructions)[:2])
            assert item.answer == ("yes" if a < b else "no")
    for item in generate("sequences", 200, seed=1):
        if item.instructions.startswith("Give the term after"):
            seq = [int(x) for x in re.findall(r"-?\d+", item.instructions)]
            diffs = {b - a for a, b in zip(seq, seq[1:])}
            if len(diffs) == 1:  # arithmetic
                assert int(item.answer) == seq[-1] + diffs.pop()


def test_training_data_never_contains_a_seed_task_instance():
    sandbox = Sandbox()
    seed_texts = {inst["instructions"] for f in seed_families() for inst in sandbox.instances(f.code, 8).values()}
    assert len(seed_texts) > 100
    for skill in SKILLS:
        own, replay = training_items(skill, 2000, 0.2, data_seed=0)
        texts = {i.instructions for i in own + replay}
        assert not texts & seed_texts
        # and no seed instance is even a substring of a training question
        assert not [s for s in seed_texts if any(s in t for t in texts)]


@pytest.mark.parametrize("item, response, expected", [
    (ExpertItem("math", "q", "12", "", "number"), "7 + 5 = 12.\nAnswer: 12", 1.0),
    (ExpertItem("math", "q", "1012", "", "number"), "Answer: 1,012", 1.0),
    (ExpertItem("math", "q", "12", "", "number"), "7 + 5 = 12.\nAnswer: 13", 0.0),
    (ExpertItem("math", "q", "12", "", "number"), "I cannot say", 0.0),
    (ExpertItem("code", "q", "HONEY", "", "exact_case"), "Answer: `HONEY`", 1.0),
    (ExpertItem("code", "q", "HONEY", "", "exact_case"), "Answer: honey", 0.0),
    (ExpertItem("code", "q", "[1, 2]", "", "exact_case"), "Answer: [1, 2]", 1.0),
    (ExpertItem("code", "q", "5", "", "exact_case"), "The program prints 5 and more", 0.0),
    (ExpertItem("strings", "q", "m-a-p", "", "exact"), "Answer: 'M-A-P'.", 1.0),
    (ExpertItem("strings", "q", "map", "", "exact"), "Answer: maps", 0.0),
    (ExpertItem("lists", "q", "1, 3, 5", "", "numbers"), "Answer: [1, 3, 5]", 1.0),
    (ExpertItem("lists", "q", "1, 3, 5", "", "numbers"), "Answer: 1, 5, 3", 0.0),
    (ExpertItem("general", "q", "kitten", "", "word"), "Answer: A kitten.", 1.0),
    (ExpertItem("general", "q", "kitten", "", "word"), "Answer: kittens", 0.0),
])
def test_score_response(item, response, expected):
    assert score_response(item, response) == expected


def test_unknown_skill():
    with pytest.raises(ValueError, match="unknown expert skill 'poetry'"):
        generate("poetry", 3, 0)
