"""The offline template scientist: the scientist operations (harder, easier, novel related, novel
new, reflect) over a library of parametric task templates (:mod:`acdc_core.scientist.library`).

Each :class:`~acdc_core.scientist.library.Template` is data: a capability and domain, named variants (each a description
pattern), five difficulty levels (generator parameters, plus description-only words), an
instance generator and a scoring rule.  :func:`render` turns one (template, variant, level) into
a self-contained task-family source -- the generator (:mod:`acdc_core.scientist.generators`),
helpers and scorer (:mod:`acdc_core.scientist.family_code`) are copied into it with
:func:`inspect.getsource`, so they must use only their arguments and the stdlib modules the
sandbox preloads.  :class:`TemplateScientist` answers in the same reply format as an LLM
scientist (one ```python block), choosing among :func:`catalogue` entries by operation.
"""

from __future__ import annotations

import functools
import inspect
import pprint
import random
import textwrap
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from acdc_core.scientist.base import TaskRequest
from acdc_core.scientist.family_code import SCORERS
from acdc_core.scientist.library import RELATED, TEMPLATES
from acdc_core.scientist.replies import extract_code, fenced
from acdc_core.taskfamily import TaskFamilyError, read_metadata

N_INSTANCES = 8
UNSOLVABLE = "no archive model solves"


# --- rendering ----------------------------------------------------------------------------------

_CLASS = '''class TaskFamily:
    @staticmethod
    def get_tasks() -> dict[str, dict]:
        rng = random.Random(SEED)
        tasks, questions = {}, set()
        for _ in range(50 * N_INSTANCES):
            t = make_instance(rng, VARIANT, PARAMS)
            if t["question"] not in questions:
                questions.add(t["question"])
                tasks[str(len(tasks))] = t
                if len(tasks) == N_INSTANCES:
                    break
        return tasks

    @staticmethod
    def get_instructions(t: dict) -> str:
        return t["question"]

    @staticmethod
    def score(t: dict, submission: str) -> float:
        return SCORER(t, submission)
'''


@functools.cache
def _source(function: Callable) -> str:
    """The source of a module-level function, as copied into family code."""
    return inspect.getsource(function).strip()


def family_name(template: str, variant: str, level: int) -> str:
    """The METADATA name of a catalogue entry."""
    return f"{template}_{variant}_l{level}"


def catalogue() -> list[tuple[str, str, int]]:
    """Every (template, variant, level) the library can render, in library order."""
    return [(t.name, v, lv) for t in TEMPLATES.values() for v in t.variants for lv in range(1, len(t.params) + 1)]


def render(template: str, variant: str, level: int, seed: int | None = None) -> str:
    """The task-family source of one catalogue entry.

    Args:
        seed: the instance seed baked into the code; by default a stable hash of the family name.
    """
    spec = TEMPLATES[template]
    name = family_name(template, variant, level)
    description = spec.describe(variant, level)
    metadata = {"name": name, "description": description, "capability": spec.capability, "domain": spec.domain,
                "template": template, "variant": variant, "level": level}
    scorer = SCORERS[spec.scorer(variant)]
    generator = _source(spec.generate).replace(f"def {spec.generate.__name__}(", "def make_instance(", 1)
    blocks = [
        '"""' + textwrap.fill(description, 96) + '"""\n\n'
        + "\n".join(f"import {m}" for m in sorted({"random", "re", *spec.imports})),
        "METADATA = " + pprint.pformat(metadata, width=100, sort_dicts=False),
        "\n".join([
            f"VARIANT = {variant!r}",
            "PARAMS = " + pprint.pformat(spec.params[level - 1], width=100, compact=True, sort_dicts=False),
            f"SEED = {zlib.crc32(name.encode()) if seed is None else seed}",
            f"N_INSTANCES = {N_INSTANCES}",
        ]),
        *(_source(f) for f in (*spec.helpers, *scorer)),
        generator,
        _CLASS.replace("SCORER", scorer[-1].__name__).strip(),
    ]
    return "\n\n\n".join(blocks) + "\n"


# --- choosing what to write ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Origin:
    """Where a parent family sits: its catalogue entry (None for families not from the library)."""

    capability: str
    entry: tuple[str, str, int] | None = None


def _origin(code: str, capability: str) -> _Origin:
    """Locate ``code`` (a parent or a previous attempt) in the catalogue by its METADATA."""
    try:
        meta = read_metadata(code)
    except TaskFamilyError:
        return _Origin(capability)
    entry = (meta.get("template"), meta.get("variant"), meta.get("level"))
    spec = TEMPLATES.get(entry[0]) if isinstance(entry[0], str) else None
    if spec and entry[1] in spec.variants and entry[2] in range(1, len(spec.params) + 1):
        return _Origin(spec.capability, entry)
    return _Origin(capability or meta["capability"])


def _cost(operation: str, origin: _Origin, entry: tuple[str, str, int]) -> tuple[int, int]:
    """How far ``entry`` is from what ``operation`` asks of ``origin``: (total, level part).

    Lower is better; ties are broken at random.  The parent itself is never preferred, and
    ``novel_related`` puts the parent's own (template, variant) last.
    """
    template, variant, level = entry
    cap = TEMPLATES[template].capability
    related = cap in RELATED.get(origin.capability, ())
    parent_level = origin.entry[2] if origin.entry else None
    if operation in ("harder", "easier"):
        if origin.entry and template == origin.entry[0]:
            affinity = 0 if variant == origin.entry[1] else 1
        else:
            affinity = 2 if cap == origin.capability else 3 if related else 4
        if operation == "harder":
            target = min(parent_level + 1, len(TEMPLATES[origin.entry[0]].params)) if parent_level else 2
            level_cost = level - target if level >= target else 3 * (target - level)
        else:
            target = max(parent_level - 1, 1) if parent_level else 1
            level_cost = target - level if level <= target else 3 * (level - target)
    elif operation == "novel_related":
        affinity = 0 if cap == origin.capability else 1 if related else 2
        if origin.entry and (template, variant) == origin.entry[:2]:
            affinity += 100
        level_cost = max(0, abs(level - (parent_level or 1)) - 1)
    else:  # novel_new
        affinity = 4 if cap == origin.capability else 1 if related else 0
        level_cost = max(0, level - 2)
    if entry == origin.entry:
        affinity += 1000
    return affinity + level_cost, level_cost


def _choose(operation: str, origin: _Origin, taken: set[str], rng: random.Random) -> tuple[str, str, int]:
    """The best catalogue entry for ``operation`` whose name is not ``taken`` (the best taken
    one when every entry is)."""
    ranked = sorted((_cost(operation, origin, e), rng.random(), e) for e in catalogue())
    free = [e for _, _, e in ranked if family_name(*e) not in taken]
    return (free or [ranked[0][2]])[0]


def _answer(req: TaskRequest, taken: set[str]) -> tuple[str, str, int]:
    """The catalogue entry ``req``'s operation asks for, from its parent."""
    origin = _origin(req.parent.get("code", ""), req.parent.get("capability", ""))
    return _choose(req.operation, origin, taken, random.Random(req.seed))


class TemplateScientist:
    """The offline scientist: every reply is a rendered library family (see the module docstring).

    Replies of one batch have distinct names: each request avoids its ``known_names`` and the
    names chosen for the requests before it.
    """

    def write(self, requests: list[TaskRequest]) -> list[str]:
        """One reply per request: the family its operation asks for, from the request's parent."""
        chosen: set[str] = set()
        replies = []
        for req in requests:
            entry = _answer(req, chosen | set(req.known_names))
            chosen.add(family_name(*entry))
            replies.append(fenced(render(*entry)))
        return replies

    def reflect(self, requests: list[TaskRequest], attempts: list[str], errors: list[str]) -> list[str]:
        """Rewrites: one level easier (another variant at level 1) when no archive model solved the
        attempt, else the attempt's family with fresh instances; a fresh :meth:`write` for
        attempts that are not library families."""
        chosen: set[str] = set()
        replies = []
        for req, attempt, error in zip(requests, attempts, errors):
            try:
                origin = _origin(extract_code(attempt), "")
            except TaskFamilyError:
                origin = _Origin("")
            taken = chosen | set(req.known_names)
            seed = None
            if origin.entry is None:
                entry = _answer(req, taken)
            elif UNSOLVABLE in error.lower():
                entry = _choose("easier", origin, taken, random.Random(req.seed))
            else:
                entry = origin.entry
                seed = zlib.crc32(f"{family_name(*entry)}#{req.seed}".encode())
            chosen.add(family_name(*entry))
            replies.append(fenced(render(*entry, seed=seed)))
        return replies

    def is_interesting(self, candidates: list[str], neighbours: list[list[str]]) -> list[bool | None]:
        """No opinion on novelty: the embedding filter alone decides."""
        return [None] * len(candidates)
