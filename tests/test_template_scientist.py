"""The offline template scientist: every library family loads and scores in the sandbox, the
operations move through the catalogue as asked, and a 20-round run never runs dry."""

import random
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from acdc_core.adapters.sandbox import Sandbox
from acdc_core.scientist.base import OPERATIONS, TaskRequest
from acdc_core.scientist.family_code import _score_number, _score_numbers, _score_text
from acdc_core.scientist.library import TEMPLATES
from acdc_core.scientist.replies import extract_code
from acdc_core.scientist.templates import TemplateScientist, catalogue, family_name, render
from acdc_core.taskfamily import read_metadata, seed_families

CATALOGUE = catalogue()
UNSOLVED = "no archive model solves any instance"


def _wrong(entry: tuple[str, str, int], task: dict) -> str:
    """A plausible but wrong answer to ``task``."""
    kind = TEMPLATES[entry[0]].scorer(entry[1])
    answer = task["answer"]
    if kind == "number":
        return str(int(answer) + 1)
    if kind == "numbers":
        last = re.findall(r"\d+", answer)[-1]
        return answer[: answer.rfind(last)] + str(int(last) + 1)
    if task.get("options"):
        return next(o for o in task["options"] if o != answer)
    return "x" + answer


def _check_in_sandbox(entry: tuple[str, str, int]) -> str | None:
    """None when the family of ``entry`` loads and scores right; else what went wrong."""
    code = render(*entry)
    sandbox = Sandbox()
    instances = sandbox.instances(code, 8)
    if len(instances) != 8 or not all(i["instructions"].strip() for i in instances.values()):
        return f"{entry}: {len(instances)} instances or empty instructions"
    items, expected = [], {}
    for iid, inst in instances.items():
        task = inst["task"]
        if not isinstance(task.get("answer"), str) or not task["answer"]:
            return f"{entry}: instance {iid} has no string answer"
        for label, submission, score in (("right", task["answer"], 1.0), ("empty", "", 0.0),
                                         ("wrong", _wrong(entry, task), 0.0)):
            items.append({"instance_id": f"{iid}:{label}", "task": task, "submission": submission})
            expected[f"{iid}:{label}"] = score
    scores, errors = sandbox.score(code, items)
    if errors or scores != expected:
        bad = {k: v for k, v in scores.items() if expected[k] != v}
        return f"{entry}: errors {errors}, unexpected scores {bad}"
    return None


def _parent(entry: tuple[str, str, int]) -> dict:
    return _parent_of(render(*entry))


def _parent_of(code: str) -> dict:
    meta = read_metadata(code)
    return {"task_id": "t-" + meta["name"], "name": meta["name"], "code": code, "description": meta["description"],
            "capability": meta["capability"], "domain": meta["domain"], "pass_rate": 0.5}


def _entry(reply: str) -> tuple[str, str, int]:
    meta = read_metadata(extract_code(reply))
    return meta["template"], meta["variant"], meta["level"]


def _ask(operation: str, parent: dict, seed: int = 1, known: tuple[str, ...] = ()) -> tuple[str, str, int]:
    req = TaskRequest(f"r-{operation}", operation, parent, seed, known)
    return _entry(TemplateScientist().write([req])[0])


def _cap(entry: tuple[str, str, int]) -> str:
    return TEMPLATES[entry[0]].capability


def test_library_breadth():
    assert len(TEMPLATES) >= 16
    assert len({t.capability for t in TEMPLATES.values()}) >= 6
    for t in TEMPLATES.values():
        assert 2 <= len(t.variants) <= 4, t.name
        assert len(t.params) >= 5, t.name
    assert len(CATALOGUE) == len(set(CATALOGUE)) >= 240


def test_every_family_has_metadata_and_unique_name_and_description():
    metas = [read_metadata(render(*e)) for e in CATALOGUE]
    for entry, meta in zip(CATALOGUE, metas):
        assert meta["name"] == family_name(*entry)
        assert re.fullmatch(r"[a-z0-9_]+", meta["name"])
        assert (meta["template"], meta["variant"], meta["level"]) == entry
        assert meta["capability"] == _cap(entry)
    assert len({m["name"] for m in metas}) == len(metas)
    assert len({m["description"] for m in metas}) == len(metas)


def test_generated_code_is_deterministic_and_seeded_per_family():
    code = render("add_sub", "add", 2)
    assert code == render("add_sub", "add", 2)
    seeds = {re.search(r"^SEED = (\d+)$", render(*e), re.MULTILINE).group(1) for e in CATALOGUE}
    assert len(seeds) == len(CATALOGUE)
    assert render("add_sub", "add", 2, seed=7) != code


def test_every_family_loads_and_scores_in_the_sandbox():
    with ThreadPoolExecutor(max_workers=2) as pool:
        problems = [p for p in pool.map(_check_in_sandbox, CATALOGUE) if p]
    assert not problems, problems[:5]


@pytest.mark.parametrize(("scorer", "task", "submission", "expected"), [
    (_score_number, {"answer": "42"}, "The answer is 42.", 1.0),
    (_score_number, {"answer": "1234"}, "1,234", 1.0),
    (_score_number, {"answer": "-7"}, "\u22127", 1.0),
    (_score_number, {"answer": "42"}, "43", 0.0),
    (_score_numbers, {"answer": "1, 6, 9"}, "The sorted list is 1, 6, 9.", 1.0),
    (_score_numbers, {"answer": "1, 6, 9"}, "9, 6, 1", 0.0),
    (_score_numbers, {"answer": "5:00"}, "05:00", 1.0),
    (_score_text, {"answer": "Ann", "options": ["Ann", "Ben"]}, "Ann is the tallest.", 1.0),
    (_score_text, {"answer": "Ann", "options": ["Ann", "Ben"]}, "Ann is taller than Ben", 0.0),
    (_score_text, {"answer": "no", "options": ["yes", "no"]}, "No, it is not.", 1.0),
    (_score_text, {"answer": "r"}, "The 3rd letter is 'r'.", 1.0),
    (_score_text, {"answer": "r"}, "It is a r", 0.0),
    (_score_text, {"answer": "April 6"}, "April 6th", 1.0),
    (_score_text, {"answer": "tac"}, "The reversed word is TAC", 1.0),
    (_score_text, {"answer": "tac"}, "cat", 0.0),
])
def test_scorers_are_tolerant_but_unambiguous(scorer, task, submission, expected):
    assert scorer(task, submission) == expected


def test_harder_raises_the_level_then_changes_variant_at_the_top():
    for entry in CATALOGUE:
        got = _ask("harder", _parent(entry))
        if entry[2] < 5:
            assert got == (entry[0], entry[1], entry[2] + 1)
        else:
            assert got[0] == entry[0] and got[1] != entry[1] and got[2] == 5


def test_easier_lowers_the_level_then_changes_variant_at_the_bottom():
    for entry in CATALOGUE:
        got = _ask("easier", _parent(entry))
        if entry[2] > 1:
            assert got == (entry[0], entry[1], entry[2] - 1)
        else:
            assert got[0] == entry[0] and got[1] != entry[1] and got[2] == 1


def test_novel_related_keeps_capability_and_changes_template_or_variant():
    for i, entry in enumerate(CATALOGUE):
        got = _ask("novel_related", _parent(entry), seed=i)
        assert _cap(got) == _cap(entry)
        assert got[:2] != entry[:2]
        assert abs(got[2] - entry[2]) <= 1


def test_novel_new_changes_capability_at_a_low_level():
    for i, entry in enumerate(CATALOGUE):
        got = _ask("novel_new", _parent(entry), seed=i)
        assert _cap(got) != _cap(entry) and got[2] <= 2


def test_seed_parents_map_onto_the_library():
    caps = {t.capability for t in TEMPLATES.values()}
    for fam in seed_families():
        parent = {"task_id": fam.task_id, "name": fam.name, "code": fam.code, "description": fam.description,
                  "capability": fam.capability, "domain": fam.domain, "pass_rate": 0.9}
        harder = _ask("harder", parent)
        assert harder[2] == 2
        if fam.capability in caps:
            assert _cap(harder) == fam.capability
        assert _cap(_ask("novel_new", parent)) != fam.capability


def test_known_names_and_batch_names_are_avoided():
    parent = _parent(("add_sub", "add", 2))
    known = (family_name("add_sub", "add", 3),)
    got = _ask("harder", parent, known=known)
    assert family_name(*got) not in known and got[0] == "add_sub" and got[2] == 3

    everything = tuple(family_name(*e) for e in CATALOGUE)
    last_free = ("calendar", "days_between", 4)
    assert _ask("harder", parent, known=tuple(n for n in everything if n != family_name(*last_free))) == last_free
    assert _ask("harder", parent, known=everything) in CATALOGUE  # best effort when all are taken

    requests = [TaskRequest(f"r{i}", "harder", parent, seed=i) for i in range(3)]
    names = [read_metadata(extract_code(r))["name"] for r in TemplateScientist().write(requests)]
    assert len(set(names)) == 3


def test_replies_are_deterministic_and_fenced():
    parent = _parent(("word_edit", "reverse", 2))
    requests = [TaskRequest(f"r-{op}", op, parent, seed=11) for op in OPERATIONS]
    first, second = TemplateScientist().write(requests), TemplateScientist().write(requests)
    assert first == second
    assert all(r.startswith("```python\n") and r.endswith("\n```") for r in first)


def test_reflect_on_unsolvable_goes_easier_and_otherwise_reseeds():
    sci = TemplateScientist()
    req = TaskRequest("r", "harder", _parent(("add_sub", "add", 2)), seed=5)
    attempt = sci.write([req])[0]
    assert _entry(attempt) == ("add_sub", "add", 3)
    assert _entry(sci.reflect([req], [attempt], [UNSOLVED])[0]) == ("add_sub", "add", 2)

    bottom = "```python\n" + render("ordering", "age", 1) + "\n```"
    got = _entry(sci.reflect([req], [bottom], [UNSOLVED])[0])
    assert got[0] == "ordering" and got[1] != "age" and got[2] == 1

    retry = sci.reflect([req], [attempt], ["score() raised KeyError"])[0]
    assert _entry(retry) == _entry(attempt) and extract_code(retry) != extract_code(attempt)

    assert _entry(sci.reflect([req], ["no code here"], ["syntax error"])[0]) == ("add_sub", "add", 3)
    assert sci.is_interesting(["a", "b"], [[], []]) == [None, None]


def test_twenty_rounds_keep_producing_new_families():
    sci, rng = TemplateScientist(), random.Random(0)
    pool = {family_name(t.name, next(iter(t.variants)), 1): render(t.name, next(iter(t.variants)), 1)
            for t in TEMPLATES.values()}
    names = {family_name(*e) for e in CATALOGUE}
    for rnd in range(20):
        parents = rng.sample(sorted(pool), 10)
        requests = [TaskRequest(f"{rnd}-{i}", rng.choice(OPERATIONS), _parent_of(pool[p]), rng.randrange(2**31),
                                tuple(pool)) for i, p in enumerate(parents)]
        for reply in sci.write(requests):
            code = extract_code(reply)
            name = read_metadata(code)["name"]
            assert name in names and name not in pool, f"round {rnd}: collision on {name}"
            pool[name] = code
    assert len(pool) >= 150

