"""Checks for the seed task families in acdc_core/seed_tasks (METR task-family format)."""

import ast
import json
import re
from pathlib import Path

import pytest

SEED_DIR = Path(__file__).resolve().parents[1] / "acdc_core" / "seed_tasks"
FAMILY_FILES = sorted(p for p in SEED_DIR.glob("*.py") if p.name != "__init__.py")

CAPABILITIES = {"arithmetic", "strings", "lists", "logic", "code", "knowledge"}
METADATA_KEYS = {"name", "description", "capability", "domain"}
ALLOWED_IMPORTS = {
    "bisect", "collections", "datetime", "decimal", "fractions", "functools",
    "hashlib", "heapq", "itertools", "json", "math", "operator", "random", "re",
    "statistics", "string", "textwrap", "unicodedata",
}
INT_RE = re.compile(r"-?\d+")


def _read_metadata(path: Path) -> dict:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(tg, ast.Name) and tg.id == "METADATA" for tg in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{path.name}: no top-level METADATA assignment")


def _load_family(path: Path):
    ns: dict = {"__name__": f"seed_task_{path.stem}"}
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), ns)
    assert "TaskFamily" in ns, f"{path.name}: no TaskFamily class"
    return ns["TaskFamily"]


def _whole_word(needle: str, haystack: str) -> bool:
    return re.search(r"(?<!\w)" + re.escape(needle) + r"(?!\w)", haystack) is not None


def _wrong_answer(answer: str) -> str:
    if INT_RE.fullmatch(answer):
        return str(int(answer) + 1)
    if answer in ("yes", "no"):
        return "no" if answer == "yes" else "yes"
    return "zzzz"


def test_family_files_exist():
    assert FAMILY_FILES, f"no seed task families found in {SEED_DIR}"


def test_family_count_and_capabilities():
    metas = [_read_metadata(p) for p in FAMILY_FILES]
    assert len(metas) >= 20
    assert CAPABILITIES <= {m["capability"] for m in metas}


@pytest.mark.parametrize("path", FAMILY_FILES, ids=[p.stem for p in FAMILY_FILES])
def test_metadata(path):
    meta = _read_metadata(path)
    assert isinstance(meta, dict)
    assert METADATA_KEYS <= set(meta)
    assert meta["name"] == path.stem
    assert meta["capability"] in CAPABILITIES
    for key in METADATA_KEYS:
        assert isinstance(meta[key], str) and meta[key].strip()


@pytest.mark.parametrize("path", FAMILY_FILES, ids=[p.stem for p in FAMILY_FILES])
def test_only_allowed_imports(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import"
            names = [(node.module or "").split(".")[0]]
        else:
            continue
        for name in names:
            assert name in ALLOWED_IMPORTS, f"{path.name}: disallowed import {name!r}"


@pytest.mark.parametrize("path", FAMILY_FILES, ids=[p.stem for p in FAMILY_FILES])
def test_tasks_well_formed_and_deterministic(path):
    family = _load_family(path)
    tasks = family.get_tasks()
    assert isinstance(tasks, dict)
    assert len(tasks) >= 5
    for key, t in tasks.items():
        assert isinstance(key, str)
        assert isinstance(t, dict)
        json.dumps(t)
        assert isinstance(t.get("answer"), str) and t["answer"].strip()
    # Deterministic across calls and across fresh loads.
    assert json.dumps(tasks, sort_keys=True) == json.dumps(family.get_tasks(), sort_keys=True)
    again = _load_family(path).get_tasks()
    assert json.dumps(tasks, sort_keys=True) == json.dumps(again, sort_keys=True)


@pytest.mark.parametrize("path", FAMILY_FILES, ids=[p.stem for p in FAMILY_FILES])
def test_scoring(path):
    family = _load_family(path)
    for key, t in family.get_tasks().items():
        answer = t["answer"]
        instructions = family.get_instructions(t)
        assert isinstance(instructions, str) and instructions.strip()
        assert not _whole_word(answer, instructions), (
            f"{path.stem}[{key}]: answer {answer!r} leaks into instructions {instructions!r}")

        assert family.score(t, answer) == 1.0, f"{path.stem}[{key}]: bare answer fails"
        sentence = "The answer is " + answer + "."
        assert family.score(t, sentence) == 1.0, f"{path.stem}[{key}]: {sentence!r} fails"
        assert family.score(t, "") == 0.0, f"{path.stem}[{key}]: empty passes"
        assert family.score(t, instructions) == 0.0, f"{path.stem}[{key}]: echo passes"
        wrong = _wrong_answer(answer)
        assert family.score(t, wrong) == 0.0, f"{path.stem}[{key}]: wrong {wrong!r} passes"
        assert family.score(t, "The answer is " + wrong + ".") == 0.0, (
            f"{path.stem}[{key}]: wrong sentence passes")


NUMBER_CASES = ["42", "The answer is 1,234.", "-7 degrees", "3.5 then 4", "1,2,3", "12,3456", "no number",
                "x = 10,000,000 and y = -0.25", "", "Answer: 0"]


@pytest.mark.parametrize("path", [p for p in FAMILY_FILES if "def _last_number" in p.read_text()],
                         ids=lambda p: p.stem)
def test_a_seed_tasks_own_number_parser_agrees_with_the_shared_one(path):
    """Seed task files run alone in the sandbox, so they keep a copy of the number rule
    (acdc_core/numbers.py says so); the copy must read answers as the shared parser does."""
    from acdc_core.numbers import numbers_in

    namespace: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # noqa: S102 - our own seed file
    for text in NUMBER_CASES:
        last = namespace["_last_number"](text)
        shared = numbers_in(text)
        assert (float(last) if last is not None else None) == (shared[-1] if shared else None), text
