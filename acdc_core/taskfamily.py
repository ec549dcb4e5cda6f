"""The synthetic tasks AC/DC evolves, as a domain object (not a Prefect task).

A family's source code defines ``class TaskFamily`` (METR format: ``get_tasks``,
``get_instructions``, ``score``) and a literal ``METADATA`` dict.  The code is untrusted: here it
is only parsed (``ast``), never executed; execution happens in :mod:`acdc_core.adapters.sandbox`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from acdc_core.hashing import stable_hash, text_hash

METADATA_KEYS = ("name", "description", "capability", "domain")


class TaskFamilyError(ValueError):
    """Task-family source that cannot be accepted (not Python, no METADATA, missing keys)."""


@dataclass(frozen=True)
class TaskFamily:
    """One task family: its code and metadata.  ``task_id`` is the hash of the code."""

    task_id: str
    name: str
    code: str
    description: str
    capability: str
    domain: str
    origin: str = "seed"
    parent_id: str | None = None


def read_metadata(code: str) -> dict:
    """The literal ``METADATA`` dict of ``code``.

    Raises:
        TaskFamilyError: when the code does not parse, has no literal METADATA, or misses a key.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        raise TaskFamilyError(f"task family is not valid Python: {exc}") from None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "METADATA" for t in node.targets):
            try:
                meta = ast.literal_eval(node.value)
            except ValueError:
                raise TaskFamilyError("METADATA must be a literal dict") from None
            missing = [k for k in METADATA_KEYS if not isinstance(meta.get(k), str)]
            if missing:
                raise TaskFamilyError(f"METADATA lacks string keys: {missing}")
            return meta
    raise TaskFamilyError("task family defines no METADATA")


def family_from_code(code: str, origin: str = "seed", parent_id: str | None = None) -> TaskFamily:
    """Build a :class:`TaskFamily` from source (parsed, not run)."""
    meta = read_metadata(code)
    return TaskFamily(
        task_id=text_hash(code),
        name=meta["name"],
        code=code,
        description=meta["description"],
        capability=meta["capability"],
        domain=meta["domain"],
        origin=origin,
        parent_id=parent_id,
    )


def seed_families(include: list[str] | None = None, extra_dirs: list[str] | None = None) -> list[TaskFamily]:
    """The seed task set shipped in ``acdc_core/seed_tasks`` plus ``extra_dirs``' ``*.py`` files,
    sorted by name; ``include`` (names) restricts it.

    Raises:
        TaskFamilyError: on a malformed file, duplicate names, or an ``include`` name not found.
    """
    sources = [f.read_text() for f in sorted(resources.files("acdc_core.seed_tasks").iterdir(), key=lambda f: f.name)
               if f.name.endswith(".py") and f.name != "__init__.py"]
    for d in extra_dirs or []:
        sources += [p.read_text() for p in sorted(Path(d).glob("*.py"))]
    families = [family_from_code(s) for s in sources]
    names = [f.name for f in families]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise TaskFamilyError(f"duplicate task family names: {dup}")
    if include:
        unknown = sorted(set(include) - set(names))
        if unknown:
            raise TaskFamilyError(f"tasks.include names unknown task families: {unknown}")
        families = [f for f in families if f.name in include]
    return sorted(families, key=lambda f: f.name)


def task_set_hash(task_ids: list[str]) -> str:
    """Order-free hash of a set of task ids: the cache key of "evaluated on this task set"."""
    return stable_hash(sorted(task_ids))
