"""The scientist's reflection rounds of one task adaptation, as a state machine (ALGORITHM.md
step 7): requests out, the steps' results in, decisions out.

Each round the flow asks the scientist for the pending requests (first attempts in round 0, then
self-reflections on the attempts and their errors), validates the replies, embeds and filters the
valid ones for novelty, lets the archive answer those that pass, and hands all of it to
:meth:`Reflection.conclude_round`.  That decides each reply (:func:`acdc_core.adaptation.proposal_verdict`),
admits what passes (its id, name, code and embedding join what later rounds are compared with),
records a ``task_proposals`` row per reply, and sends invalid and impossible replies back for
reflection while rounds remain.  Pure: no I/O; the flow runs the steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from acdc_core.adaptation import pass_rates, proposal_verdict
from acdc_core.taskfamily import TaskFamily, TaskSet


@dataclass(frozen=True)
class CheckedReply:
    """A scientist's reply after validation: ``error`` (None when valid), the family with its
    instances (``task``, None unless valid), and its id and name when the code could be read."""

    error: str | None
    task: TaskFamily | None = None
    task_id: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class NoveltyVerdict:
    """The novelty filter on one valid reply: ``status`` None (it passes), ``not_novel`` or
    ``not_interesting`` with its ``reason``; the cosine similarity to the nearest task of the
    history and the nearest task ids."""

    status: str | None
    reason: str | None
    max_similarity: float | None
    nearest_ids: list[str]


@dataclass(frozen=True)
class Admitted:
    """A reply the adaptation admitted: the request it answered, its family (with instances), its
    ``task_embeddings`` row and the archive's evaluation rows on it."""

    request: dict
    task: TaskFamily
    embedding: dict
    evaluations: list[dict]


@dataclass(frozen=True)
class RoundReport:
    """One round in numbers: replies, valid ones, admitted, sent back for reflection."""

    round: int
    replies: int
    valid: int
    admitted: int
    retried: int


@dataclass
class Reflection:
    """The state of one adaptation's scientist rounds.

    Args:
        generation: the generation the adaptation follows.
        rounds: ``adaptation.reflection_rounds`` (round 0 plus this many reflections at most).
        requests: the plan's requests (:func:`tasks.adaptation.request_dicts` form), asked in round 0.
        history: ``{"task_id", "code", "name", "embedding"}`` of every task of the history.
        archive_ids: the models that answer the candidates.
        solved_threshold / granularity: how a candidate's pass rate over them is taken.
    """

    generation: int
    rounds: int
    pending: list[dict]
    archive_ids: list[str]
    solved_threshold: float
    granularity: str
    known_ids: list[str]
    known_names: list[str]
    vectors: dict[str, list[float]]
    codes: dict[str, str]
    round: int = 0
    attempts: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    proposals: list[dict] = field(default_factory=list)
    admitted: list[Admitted] = field(default_factory=list)
    final: dict[str, str] = field(default_factory=dict)
    tried: set[str] = field(default_factory=set)

    @classmethod
    def start(cls, generation: int, rounds: int, requests: list[dict], history: list[dict],
              embeddings: list[dict], archive_ids: list[str], solved_threshold: float,
              granularity: str) -> "Reflection":
        """Round 0 of ``requests`` against the task ``history`` (``task_history`` rows) and its
        ``embeddings`` (``task_embeddings`` rows)."""
        return cls(generation, rounds, requests, archive_ids, solved_threshold, granularity,
                   known_ids=[h["task_id"] for h in history], known_names=[h["name"] for h in history],
                   vectors={e["task_id"]: e["embedding"] for e in embeddings},
                   codes={h["task_id"]: h["code"] for h in history})

    @property
    def done(self) -> bool:
        """Nothing pending, or every round spent."""
        return not self.pending or self.round > self.rounds

    def asked_attempts(self) -> tuple[list[str] | None, list[str] | None]:
        """The pending requests' previous replies and their errors (None in round 0)."""
        if not self.round:
            return None, None
        ids = [r["request_id"] for r in self.pending]
        return [self.attempts[i] for i in ids], [self.errors[i] for i in ids]

    def novelty_history(self) -> list[dict]:
        """``{"task_id", "code", "embedding"}`` of every task known so far (those admitted in
        earlier rounds too), what the novelty filter compares with."""
        return [{"task_id": t, "code": self.codes[t], "embedding": v} for t, v in self.vectors.items()]

    def novelty_query(self, valid: list[int], embeddings: list[dict]) -> tuple[list[list[float]], list[str]]:
        """What the novelty filter is asked about the valid replies (``valid``: their positions
        among the pending requests): their vectors (from ``embeddings``, their ``task_embeddings``
        rows in the same order) and the operation each one's request asked for."""
        return [e["embedding"] for e in embeddings], [self.pending[i]["operation"] for i in valid]

    @staticmethod
    def valid(checked: list[CheckedReply]) -> list[int]:
        """Positions of the replies that passed validation."""
        return [i for i, c in enumerate(checked) if c.error is None]

    @staticmethod
    def candidates(checked: list[CheckedReply], valid: list[int], novelty: list[NoveltyVerdict]) -> TaskSet:
        """The valid replies the novelty filter let through (``novelty``: its verdicts on
        ``valid``, in order): what the archive answers."""
        passed = dict(zip(valid, novelty))
        return TaskSet(families=tuple(checked[i].task for i in valid if passed[i].status is None))

    def conclude_round(self, replies: list[str], checked: list[CheckedReply], valid: list[int],
                       embeddings: list[dict], novelty: list[NoveltyVerdict], rows: list[dict],
                       candidates: TaskSet) -> RoundReport:
        """Decide every reply of this round and move to the next.

        Args:
            replies: the scientist's texts, one per pending request.
            checked: their validation results.
            valid / embeddings / novelty: the valid positions and, for each, its
                ``task_embeddings`` row and novelty verdict.
            rows: the archive's evaluation rows on ``candidates``.
        """
        rnd, pending = self.round, self.pending
        novelty_of, embedding_of = dict(zip(valid, novelty)), dict(zip(valid, embeddings))
        rates = pass_rates([(r["model_id"], r["task_id"], r["instance_id"], r["score"]) for r in rows],
                           self.archive_ids, candidates.ids, self.solved_threshold, self.granularity)
        retry = []
        self.tried |= {c.name for c in checked if c.name}  # rejected names are not to be proposed again
        for i, (req, reply, c) in enumerate(zip(pending, replies, checked)):
            rid = req["request_id"]
            filtered = novelty_of.get(i)
            status, reason = proposal_verdict(c.error, filtered.status if filtered else None,
                                              filtered.reason if filtered else None, rates.get(c.task_id))
            if status == "admitted":
                self.admitted.append(Admitted(req, c.task, embedding_of[i],
                                              [r for r in rows if r["task_id"] == c.task_id]))
                self.vectors[c.task_id] = embedding_of[i]["embedding"]
                self.codes[c.task_id] = c.task.code
                self.known_ids.append(c.task_id)
                self.known_names.append(c.task.name)
            self.proposals.append(_proposal_row(self.generation, rnd, req, reply, c, status, reason,
                                                novelty_of.get(i)))
            if status in ("invalid", "impossible") and rnd < self.rounds:
                self.attempts[rid], self.errors[rid] = reply, reason
                retry.append({**req, "known_names": self.known_names + sorted(self.tried - set(self.known_names))})
            else:
                self.final[rid] = status
        self.pending, self.round = retry, rnd + 1
        admitted = sum(1 for p in self.proposals if p["round"] == rnd and p["status"] == "admitted")
        return RoundReport(rnd, len(replies), len(valid), admitted, len(retry))

    @property
    def reflections(self) -> int:
        """Replies written in a reflection round (round > 0)."""
        return sum(1 for p in self.proposals if p["round"] > 0)


def _proposal_row(generation: int, rnd: int, req: dict, reply: str, checked: CheckedReply, status: str,
                  reason: str | None, novelty: NoveltyVerdict | None = None) -> dict:
    """The ``task_proposals`` row of one reply."""
    return {
        "generation": generation, "request_id": req["request_id"], "round": rnd, "operation": req["operation"],
        "parent_id": req["parent"]["task_id"], "task_id": checked.task_id, "name": checked.name,
        "status": status, "reason": reason,
        "max_similarity": novelty.max_similarity if novelty else None,
        "nearest_ids": (novelty.nearest_ids if novelty else None) or [],
        "reply": reply,
    }
