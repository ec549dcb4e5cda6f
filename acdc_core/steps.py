"""The typed results a generation's steps hand each other (ALGORITHM.md "One generation").

seed models (:class:`Seed`, generation 0) or the stored archive -> :class:`Population` -> ask
(:class:`acdc_core.recipes.ChildRecipe`, from a :class:`Population`) -> make + screen + evaluate,
in one step where the child is evaluated (:class:`Bred`: the
:class:`acdc_core.recipes.Candidate` and its :class:`Verdict`; :func:`new_children`) -> tell
(:class:`Tell`, holding the :class:`ArchiveUpdate`) -> adapt (:class:`AdaptationStart`, then
:class:`TaskChanges`) -> the task side (:class:`TaskSide`) -> held-out answers
(:class:`HeldoutOutcome`) -> commit (:class:`Committed`) -> :class:`GenerationSummary`.

Table rows inside them (``rows``, ``evaluations``, ``task_families`` ...) stay dicts keyed by the
columns of their DuckDB table (``storage/schema`` lists them): they are written as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from acdc_core.adaptation import AdaptationPlan
from acdc_core.recipes import Candidate
from acdc_core.skills import ScoreRow
from acdc_core.taskfamily import TaskSet
from acdc_core.transfer import HeldoutCoverage


@dataclass(frozen=True)
class Seed:
    """One model of the seed population: ``role`` "seed" (joins the population) or "base" (only
    the reference of task vectors); ``source``: where it came from (a shipped model, a path, or
    ``expert:<skill>`` for an expert fine-tuned from the base); ``recipe``: how an expert was built."""

    model_id: str
    uri: str
    name: str
    source: str
    role: str
    is_base: bool
    recipe: dict = field(default_factory=dict)

    @classmethod
    def from_entry(cls, entry: dict) -> Seed:
        """From an entry of the cached seed steps (``prepare-seeds``, ``build-expert``), whose
        stored results stay plain dicts so a run resumes across versions."""
        return cls(entry["model_id"], entry["uri"], entry["name"], entry["source"], entry["role"],
                   entry["is_base"], dict(entry.get("recipe", {})))

    def model_row(self) -> dict:
        """Its ``models`` row."""
        return {"model_id": self.model_id, "uri": self.uri, "parents": [], "operator": self.role,
                "recipe": {"name": self.name, "source": self.source, "is_base": self.is_base, **self.recipe},
                "merge_config_yaml": None, "seed": None}


def base_model_id(seeds: list[Seed]) -> str:
    """The id of the seed population's base (the first seed marked ``is_base``).

    Raises:
        ValueError: no seed is the base.
    """
    base = [s.model_id for s in seeds if s.is_base]
    if not base:
        raise ValueError("the seed population has no base model")
    return base[0]


@dataclass(frozen=True)
class Population:
    """Who a generation breeds from and tests on.

    ``tasks``: the active task set; ``base_id``: the base model (task vectors); ``archive_ids``:
    the archive before this generation (empty in generation 0); ``trusted``: ``models`` rows of
    the seeds and base (generation 0), which skip the gibberish screen; ``seed_ids``: the seeds
    that join the population now (generation 0); ``parents``: the ids children are bred from.
    """

    tasks: TaskSet
    base_id: str
    archive_ids: list[str]
    trusted: list[dict]
    seed_ids: list[str]
    parents: list[str]

    @classmethod
    def initial(cls, seeds: list[Seed], tasks: TaskSet) -> Population:
        """Generation 0's: the seed models (all trusted; those of role "seed" are the parents)
        on the initial task set.

        Raises:
            ValueError: no seed is the base.
        """
        seed_ids = [s.model_id for s in seeds if s.role == "seed"]
        return cls(tasks, base_model_id(seeds), [], [s.model_row() for s in seeds], seed_ids, seed_ids)


@dataclass(frozen=True)
class Verdict:
    """A new child after its model session: the gibberish screen's verdict and, if it passed, its
    evaluation ``rows`` (``evaluations`` rows without ``generation``; empty for a gibberish
    model); ``responses``: the screen's texts."""

    model_id: str
    is_gibberish: bool
    reason: str | None = None
    responses: list[str] = field(default_factory=list)
    rows: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class Bred:
    """A child made, screened and evaluated in one step: ``child`` (its id is the hash of its
    tensors) and its :class:`Verdict`, or ``verdict`` None when its weights equal a model the run
    already knows (it is not evaluated, and is dropped)."""

    child: Candidate
    verdict: Verdict | None


def new_children(bred: list[Bred]) -> tuple[list[Candidate], dict[str, Verdict]]:
    """The new children of ``bred``, in order, and their verdicts by id: without those whose
    weights equal a known model's and without a later sibling with the weights of an earlier one
    (siblings are made in parallel, so neither knew of the other)."""
    made, verdicts = [], {}
    for b in bred:
        if b.verdict is not None and b.child.model_id not in verdicts:
            made.append(b.child)
            verdicts[b.child.model_id] = b.verdict
    return made, verdicts


@dataclass(frozen=True)
class ArchiveUpdate:
    """The archive after a DNS update (or the top-fitness ablation).

    Attributes:
        kept: the archive's model ids, best first.
        fitness / competition: per candidate of the update.
        skills: per candidate, its 0/1 skill vector (one entry per skill-vector column).
        distinct: distinct skill vectors among the kept.
        coverage_instances / coverage_families: share (0-1) of the active instances / families
            the kept set solves.
    """

    kept: list[str]
    fitness: dict[str, float]
    competition: dict[str, float]
    skills: dict[str, list[int]]
    distinct: int
    coverage_instances: float
    coverage_families: float

    @property
    def best_fitness(self) -> float:
        return max(self.fitness[m] for m in self.kept)


@dataclass(frozen=True)
class Tell:
    """The archive update of a generation, what it did with each candidate (``status``: admitted,
    rejected, gibberish, evicted, kept; see :func:`acdc_core.dns.candidate_status`) and the score
    rows it was decided on (the archive before the update and this generation's evaluations)."""

    update: ArchiveUpdate
    status: dict[str, str]
    score_rows: list[ScoreRow]

    def count(self, status: str) -> int:
        return sum(1 for s in self.status.values() if s == status)


@dataclass(frozen=True)
class ChildEffects:
    """What the screened children found that their parents do not: ``child_effects`` rows and the
    generation's metrics (see :func:`tasks.archive.child_effects_of`)."""

    rows: list[dict] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)

    def found(self) -> dict[str, tuple[str, ...]]:
        """{child id: the "task_id/instance_id" keys it solves and none of its parents does}."""
        return {e["model_id"]: tuple(e["new_solved"]) for e in self.rows}

    def parents(self) -> dict[str, tuple[str, ...]]:
        return {e["model_id"]: tuple(e["parents"]) for e in self.rows}


@dataclass(frozen=True)
class AdaptationStart:
    """What a task adaptation starts from: the active pool, the task history (``task_history``
    rows), the unsolved streaks, the pool's floor and the plan drawn on them
    (:func:`acdc_core.adaptation.plan_adaptation`)."""

    active: TaskSet
    history: list[dict]
    streaks: dict[str, int]
    min_pool: int
    plan: AdaptationPlan


@dataclass(frozen=True)
class TaskChanges:
    """What a task adaptation changes (nothing when none was due): the admitted families' rows,
    their embeddings, the scientist's proposals, task events, the archive's and the reference
    models' evaluation rows on the admitted tasks, the task ids retired, and its statistics."""

    task_families: list[dict] = field(default_factory=list)
    task_instances: list[dict] = field(default_factory=list)
    task_embeddings: list[dict] = field(default_factory=list)
    task_proposals: list[dict] = field(default_factory=list)
    task_events: list[dict] = field(default_factory=list)
    evaluations: list[dict] = field(default_factory=list)
    deactivate: list[str] = field(default_factory=list)
    stats: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskDiversity:
    """The task archive's diversity: ``metrics`` (Vendi of the active pool and of the history,
    HDBSCAN cluster counts, task counts) and ``task_clusters`` rows of the history."""

    metrics: dict[str, float]
    clusters: list[dict]


@dataclass(frozen=True)
class TaskSide:
    """The task half of a generation: the families registered now (the seed set in generation 0,
    else those an adaptation admitted) with their rows in ``changes``, the embeddings stored now
    (``new_embeddings``: the history's missing ones and the admitted ones), the task clusters, and
    the metrics of the task archive (diversity, discriminating share, adaptation statistics)."""

    changes: TaskChanges
    new_embeddings: list[dict]
    clusters: list[dict]
    metrics: dict[str, float]


@dataclass(frozen=True)
class HeldoutOutcome:
    """What a generation adds to the held-out side: ``instances`` and ``draws`` rows of the
    families it drew, ``answers`` (``heldout_answers`` rows), and the coverage they give."""

    coverage: HeldoutCoverage
    instances: list[dict] = field(default_factory=list)
    draws: list[dict] = field(default_factory=list)
    answers: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class Committed:
    """The generation's commit: whether it wrote (False: the generation was already there) and
    the generation's stored metrics by name."""

    committed: bool
    metrics: dict[str, float]


@dataclass(frozen=True)
class AssessedPool:
    """What ``acdc assess`` and ``acdc transfer`` measure once a run has committed ``generation``:
    the ``seed_ids``, every model ``ever_archived`` (oldest first) and the ``final_archive``."""

    generation: int
    seed_ids: list[str]
    ever_archived: list[str]
    final_archive: list[str]

    @property
    def pool_ids(self) -> list[str]:
        """Every model ever archived, then the seeds that never were."""
        return list(dict.fromkeys(self.ever_archived + self.seed_ids))


@dataclass(frozen=True)
class BenchmarkItems:
    """The assessed items of one benchmark: its ``kind`` ("mc", "gen" or "code") and their
    ``doc_ids`` in draw order (position k is lm-eval's doc index k)."""

    kind: str
    doc_ids: list[int]


@dataclass(frozen=True)
class ReferenceModel:
    """A registered reference model (a ``reference_models`` row): content-hash id, configured
    name, local folder and parameter count."""

    model_id: str
    name: str
    path: str
    n_params: int


@dataclass(frozen=True)
class GenerationSummary:
    """A committed generation: the archive kept, its best fitness, candidate counts and seconds;
    ``committed`` is False when the generation was already in the database (a re-run)."""

    generation: int
    committed: bool
    kept: list[str]
    best_fitness: float
    n_candidates: int
    n_gibberish: int
    n_admitted: int
    seconds: float
