"""The synthetic tasks AC/DC evolves, as a domain object (not a Prefect task).

A family's source code defines ``class TaskFamily`` (METR format: ``get_tasks``,
``get_instructions``, ``score``) and a literal ``METADATA`` dict.  The code is untrusted: here it
is only parsed (``ast``), never executed; execution happens in :mod:`acdc_core.adapters.sandbox`.
"""

from __future__ import annotations

import ast
from importlib import resources
from pathlib import Path
from typing import Any, Iterator

from pydantic import BaseModel, ConfigDict

from acdc_core.hashing import stable_hash, text_hash

METADATA_KEYS = ("name", "description", "capability", "domain")


class TaskFamilyError(ValueError):
    """Task-family source that cannot be accepted (not Python, no METADATA, missing keys)."""


class TaskInstance(BaseModel):
    """One instance of a family, as its ``get_tasks`` and ``get_instructions`` gave it in the
    sandbox: ``task`` is the instance's JSON data (what ``score`` receives), ``instructions`` the
    text a model is asked."""

    model_config = ConfigDict(frozen=True)
    task: Any
    instructions: str


class TaskFamily(BaseModel):
    """One task family: its code and metadata, and once loaded in the sandbox its instances by
    id.  ``task_id`` is the hash of the code; ``created_generation`` is set once the run has
    admitted it."""

    model_config = ConfigDict(frozen=True)
    task_id: str
    name: str
    code: str
    description: str
    capability: str
    domain: str
    origin: str = "seed"
    parent_id: str | None = None
    created_generation: int | None = None
    instances: dict[str, TaskInstance] = {}

    def with_instances(self, instances: dict[str, TaskInstance | dict]) -> "TaskFamily":
        """This family with ``instances`` ({instance_id: TaskInstance or {"task", "instructions"}})."""
        return self.model_copy(update={"instances": {
            k: v if isinstance(v, TaskInstance) else TaskInstance(**v) for k, v in instances.items()}})

    def sorted_instances(self) -> list[tuple[str, TaskInstance]]:
        """(instance_id, instance) in id order: the order prompts and scores use."""
        return sorted(self.instances.items())

    def instructions(self) -> list[str]:
        """Every instance's instructions, in id order."""
        return [inst.instructions for _, inst in self.sorted_instances()]


class TaskSet(BaseModel):
    """The families a model is evaluated on (the active pool, a retired part of the history,
    the candidates of a reflection round), in a stable order.  Iterate ``families`` (iterating
    the model itself yields its fields, as for any pydantic model: Prefect relies on that)."""

    model_config = ConfigDict(frozen=True)
    families: tuple[TaskFamily, ...] = ()

    def __len__(self) -> int:
        return len(self.families)

    def __bool__(self) -> bool:
        return bool(self.families)

    @classmethod
    def from_rows(cls, rows: list[dict]) -> "TaskSet":
        """A set from family dicts as storage returns them (the family's fields and
        "instances" {instance_id: {"task", "instructions"}}; other keys are ignored)."""
        fields = set(TaskFamily.model_fields)
        return cls(families=tuple(TaskFamily(**{k: v for k, v in r.items() if k in fields}) for r in rows))

    @property
    def ids(self) -> list[str]:
        return [f.task_id for f in self.families]

    @property
    def hash(self) -> str:
        """Order-free hash of the family ids (see :func:`task_set_hash`)."""
        return task_set_hash(self.ids)

    @property
    def n_instances(self) -> int:
        return sum(len(f.instances) for f in self.families)

    def by_id(self) -> dict[str, TaskFamily]:
        return {f.task_id: f for f in self.families}

    def instances(self) -> Iterator[tuple[TaskFamily, str, TaskInstance]]:
        """(family, instance_id, instance) over every instance, in family then id order."""
        return ((f, iid, inst) for f in self.families for iid, inst in f.sorted_instances())

    def only(self, pairs: dict[str, list[str]]) -> "TaskSet":
        """The families and instances named in ``pairs`` ({task_id: [instance_id]}), in
        ``pairs``' order.

        Raises:
            KeyError: a task or instance id not in this set.
        """
        fams = self.by_id()
        return TaskSet(families=tuple(fams[t].with_instances({i: fams[t].instances[i] for i in iids})
                                      for t, iids in pairs.items()))


def read_metadata(code: str) -> dict:
    """The literal ``METADATA`` dict of ``code``.

    Raises:
        TaskFamilyError: when the code does not parse (nesting too deep for the parser
            included), has no literal METADATA, or misses a key.
    """
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise TaskFamilyError(f"task family is not valid Python: {exc}"[:500]) from None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "METADATA" for t in node.targets):
            try:
                meta = ast.literal_eval(node.value)
            except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
                raise TaskFamilyError("METADATA must be a literal dict") from None
            if not isinstance(meta, dict):
                raise TaskFamilyError("METADATA must be a literal dict")
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
