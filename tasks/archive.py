"""Steps that decide and record: what children found, the DNS archive update (tell), the
generation's commit batch and its one commit."""

from __future__ import annotations

import json

import numpy as np
from prefect import get_run_logger, task

from acdc_core.dns import candidate_status, dominated_novelty_search, top_fitness_selection
from acdc_core.exploration import child_effects
from acdc_core.recipes import Candidate
from acdc_core.skills import ScoreRow, distinct_vectors, skill_table, skill_vector, task_coverage
from acdc_core.steps import ArchiveUpdate, ChildEffects, Committed, HeldoutOutcome, Population, TaskSide, Tell, Verdict
from acdc_core.taskfamily import TaskSet
from acdc_core.transfer import NoiseFloor, credited_rows
from storage import queries
from storage.db import GenerationCommit
from tasks import sessions
from tasks.run_folder import RunContext
from tasks.transfer import noise_rows


@task(name="update-archive")
def update_archive(run_dir: str, population: list[str], score_rows: list[ScoreRow], task_ids: list[str]) -> ArchiveUpdate:
    """Dominated Novelty Search over ``population`` (archive + surviving children), on skill
    vectors at the run's ``evaluation.skill_granularity`` (or the N fittest with
    ``archive.selection: top_fitness``).

    Args:
        population: candidate model ids.
        score_rows: (model_id, task_id, instance_id, score) per evaluated instance.
        task_ids: the active task families.

    Returns:
        The archive after the update (see :class:`acdc_core.steps.ArchiveUpdate`).
    """
    cfg = RunContext.load(run_dir).config
    thr, granularity = cfg.evaluation.solved_threshold, cfg.evaluation.skill_granularity
    scores, _ = skill_table(score_rows, population, task_ids, granularity)
    if cfg.archive.selection == "top_fitness":
        res = top_fitness_selection(population, scores, cfg.population.archive_size)
    else:
        res = dominated_novelty_search(population, scores, cfg.population.archive_size, cfg.archive.k_nearest, thr)
    kept = [population.index(m) for m in res.kept]
    views = {g: skill_table(score_rows, population, task_ids, g)[0] if g != granularity else scores
             for g in ("instance", "family")}
    return ArchiveUpdate(
        kept=res.kept,
        fitness=res.fitness,
        competition=res.competition,
        skills={m: skill_vector(scores[i], thr).tolist() for i, m in enumerate(population)},
        distinct=distinct_vectors(scores[kept], thr),
        coverage_instances=task_coverage(views["instance"][kept], thr),
        coverage_families=task_coverage(views["family"][kept], thr),
    )


def archive_metrics(generation: int, update: ArchiveUpdate, n_candidates: int, n_gibberish: int, n_admitted: int, seconds: float) -> list[dict]:
    """The per-generation metric rows derived from an archive update.

    ``coverage_active``: share of the active pool's instances solved by >= 1 archive model;
    ``task_coverage``: the same over families (solved = mean >= threshold; a report view).
    """
    kept = update.kept
    fit = np.array([update.fitness[m] for m in kept])
    values = {
        "archive_size": len(kept),
        "best_fitness": float(fit.max()) if len(fit) else 0.0,
        "mean_fitness": float(fit.mean()) if len(fit) else 0.0,
        "coverage_active": update.coverage_instances,
        "task_coverage": update.coverage_families,
        "distinct_skill_vectors": update.distinct,
        "n_candidates": n_candidates,
        "n_gibberish": n_gibberish,
        "n_admitted": n_admitted,
        "seconds": seconds,
    }
    return [{"generation": generation, "name": k, "value": float(v)} for k, v in values.items()]


def child_effects_of(run_dir: str, generation: int, tasks: TaskSet, made: list[Candidate],
                     verdicts: dict[str, Verdict], evaluations: list[dict]) -> ChildEffects:
    """What the screened children of ``made`` found that their parents do not, on ``tasks``
    (``evaluations``: the generation's uncommitted rows, the seeds' in generation 0 among them):
    ``child_effects`` rows and the generation's metrics ``children_new_instances`` (distinct
    instances solved by a child that none of its parents solves), ``children_finding_new``
    (children that solve at least one) and ``children_differ_share`` (mean share of answers that
    differ from every parent's)."""
    ctx = RunContext.load(run_dir)
    children = [c for c in made if not verdicts[c.model_id].is_gibberish]
    answers = ctx.db.read(queries.answers, sorted({p for c in children for p in c.parents}), tasks.ids)
    answers += [(r["model_id"], r["task_id"], r["instance_id"], r["submission"], r["score"]) for r in evaluations]
    effects = child_effects({c.model_id: tuple(dict.fromkeys(c.parents)) for c in children}, answers,
                            ctx.config.evaluation.solved_threshold)
    ops = {c.model_id: c.operator for c in children}
    rows = [{
        "generation": generation, "model_id": e.model_id, "parents": list(e.parents), "operator": ops[e.model_id],
        "n_compared": e.n_compared, "differ_share": e.differ_share, "n_new_solved": len(e.new_solved),
        "n_lost_solved": len(e.lost_solved), "new_solved": list(e.new_solved),
    } for e in effects]
    metrics = {
        "children_new_instances": len({k for e in effects for k in e.new_solved}),
        "children_finding_new": sum(1 for e in effects if e.new_solved),
        "children_differ_share": float(np.mean([e.differ_share for e in effects])) if effects else 0.0,
    } if effects else {}
    return ChildEffects(rows, metrics)


def population_after(run_dir: str, generation: int) -> Population:
    """The population the generation after ``generation`` breeds from: the stored archive
    (its parents), the active task set and the base."""
    db = RunContext.load(run_dir).db
    archive_ids = db.read(queries.archive_ids, generation)
    return Population(TaskSet.from_rows(db.read(queries.active_tasks)), db.read(queries.base_model_id),
                      archive_ids, [], [], archive_ids)


def stored_seed_ids(run_dir: str) -> list[str]:
    """The run's seed models, as generation 0 stored them."""
    return RunContext.load(run_dir).db.read(queries.seed_ids)


def known_model_ids(run_dir: str, trusted: list[dict]) -> set[str]:
    """Ids of every stored model and of the ``trusted`` rows about to be: a child with one of
    them is not new."""
    return set(RunContext.load(run_dir).db.read(queries.models)["model_id"]) | {t["model_id"] for t in trusted}


def tell(run_dir: str, pop: Population, made: list[Candidate], verdicts: dict[str, Verdict],
         evaluations: list[dict], noise: NoiseFloor) -> Tell:
    """The archive update (:func:`update_archive`) over the archive, the seeds and the children
    that passed their screen (with ``noise.aware_selection``, each child credited only with the
    finds its parents do not reach when sampled), and what it did with each candidate.

    Args:
        evaluations: the generation's uncommitted evaluation rows (seeds and children).
    """
    ctx = RunContext.load(run_dir)
    survivors = [c.model_id for c in made if not verdicts[c.model_id].is_gibberish]
    score_rows = ctx.db.read(queries.evaluation_scores, pop.archive_ids) + [
        (r["model_id"], r["task_id"], r["instance_id"], r["score"]) for r in evaluations]
    seen = credited_rows(score_rows, noise) if ctx.config.noise.aware_selection else score_rows
    update = update_archive(run_dir, pop.archive_ids + pop.seed_ids + survivors, seen, pop.tasks.ids)
    status = candidate_status(pop.archive_ids, pop.seed_ids + [c.model_id for c in made],
                              [c.model_id for c in made if c.model_id not in survivors], update.kept)
    return Tell(update, status, score_rows)


def commit_batch(run_dir: str, generation: int, pop: Population, made: list[Candidate], verdicts: dict[str, Verdict],
                 evaluations: list[dict], told: Tell, effects: ChildEffects, noise: NoiseFloor, side: TaskSide,
                 heldout: HeldoutOutcome, pool_counts: tuple[int, int], seconds: float) -> GenerationCommit:
    """The generation's one commit: candidates, lineage, tasks, evaluations, archive, metrics,
    and the transfer side (held-out instances and answers, the noise floor); the history
    coverage metrics are computed by the commit itself (``solved_threshold``).

    Args:
        pool_counts: the resident pool's (loads, hits) when the generation began
            (:func:`tasks.sessions.pool_counts`).
    """
    ctx = RunContext.load(run_dir)
    status = told.status
    n_gibberish = sum(1 for c in made if status[c.model_id] == "gibberish")
    n_admitted = sum(1 for c in made if status[c.model_id] == "admitted")
    model_rows, lineage = candidate_rows(generation, pop.trusted, made, verdicts, status)
    loads, hits = (now - then for now, then in zip(sessions.pool_counts(), pool_counts))
    extra = {**side.metrics, **effects.metrics, **noise.metrics(), **heldout.coverage.metrics(),
             "archive_model_loads": loads, "archive_model_reuses": hits, "archive_evicted": told.count("evicted")}
    changes = side.changes
    return GenerationCommit(
        generation=generation, n_candidates=len(made), n_gibberish=n_gibberish, n_admitted=n_admitted,
        seconds=seconds, models=model_rows, lineage=lineage, task_families=changes.task_families,
        task_instances=changes.task_instances,
        evaluations=[{**r, "generation": generation} for r in evaluations + changes.evaluations],
        archive=archive_rows(generation, told.update),
        metrics=archive_metrics(generation, told.update, len(made), n_gibberish, n_admitted, seconds)
        + [{"generation": generation, "name": k, "value": float(v)} for k, v in extra.items()],
        task_embeddings=side.new_embeddings, task_proposals=changes.task_proposals,
        task_events=changes.task_events, task_clusters=side.clusters, deactivate=changes.deactivate,
        child_effects=effects.rows, heldout_instances=heldout.instances, heldout_draws=heldout.draws,
        heldout_answers=heldout.answers, noise_floor=noise_rows(generation, noise, effects.parents()),
        solved_threshold=ctx.config.evaluation.solved_threshold,
        retired_sample=ctx.config.evaluation.retired_sample, seed=ctx.config.run.seed,
    )


@task(name="commit-generation", retries=3, retry_delay_seconds=[1, 5, 15])
def commit_generation(run_dir: str, commit: GenerationCommit) -> Committed:
    """Write the generation's rows in one DuckDB transaction; returns whether it wrote and the
    generation's stored metrics.

    Idempotent by construction: the DuckDB transaction itself checks whether the generation is
    already committed, so a retry or a re-run after a crash between commit and return writes
    nothing twice (``committed`` False).  A task family whose rows the database refuses is
    retired (event ``retired_unstorable``) and the rest commits
    (:meth:`storage.db.RunDB.commit_generation`), so such a family cannot wedge the run.
    """
    db = RunContext.load(run_dir).db
    committed = db.commit_generation(commit)
    if retired := [t for g, t in db.read(queries.task_events, "retired_unstorable") if g == commit.generation]:
        get_run_logger().warning("generation %s: retired %d task famil%s whose rows the database refused: %s "
                                 "(task_events.detail says why)", commit.generation, len(retired),
                                 "y" if len(retired) == 1 else "ies", ", ".join(retired))
    return Committed(committed, db.read(queries.generation_metrics, commit.generation))


def candidate_rows(generation: int, trusted: list[dict], made: list[Candidate], verdicts: dict[str, Verdict],
                   status: dict[str, str]) -> tuple[list[dict], list[dict]]:
    """``models`` and ``lineage`` rows for the generation's new models: the seeds' rows
    ``trusted`` (generation 0; {"model_id", "uri", "parents", "operator", "recipe",
    "merge_config_yaml", "seed"}) and the children ``made``; ``status``: what the archive update
    did with each (:func:`acdc_core.dns.candidate_status`)."""
    models, lineage = [], []
    entries = trusted + [{"model_id": c.model_id, "uri": c.uri, "parents": list(c.parents), "operator": c.operator,
                          "recipe": c.recipe.model_dump(mode="json"), "merge_config_yaml": c.merge_config_yaml,
                          "seed": c.seed} for c in made]
    for c in entries:
        v = verdicts.get(c["model_id"])
        models.append({
            "model_id": c["model_id"], "uri": c["uri"], "parents": c["parents"], "operator": c["operator"],
            "recipe": json.dumps(c["recipe"]), "merge_config_yaml": c.get("merge_config_yaml"),
            "seed": c.get("seed"), "created_generation": generation,
            "is_gibberish": bool(v and v.is_gibberish), "gibberish_reason": v.reason if v else None,
            "archive_status": status.get(c["model_id"]),
        })
        lineage += [
            {"child_id": c["model_id"], "parent_id": p, "operator": c["operator"], "generation": generation}
            for p in dict.fromkeys(c["parents"])
        ]
    return models, lineage


def task_rows(tasks: TaskSet, generation: int) -> tuple[list[dict], list[dict]]:
    """``task_families`` and ``task_instances`` rows for newly registered task families."""
    keys = {"task_id", "name", "code", "description", "capability", "domain", "parent_id", "origin"}
    families = [{**f.model_dump(include=keys), "created_generation": generation, "active": True} for f in tasks.families]
    instances = [{"task_id": f.task_id, "instance_id": iid, "task": json.dumps(inst.task),
                  "instructions": inst.instructions} for f, iid, inst in tasks.instances()]
    return families, instances


def archive_rows(generation: int, update: ArchiveUpdate) -> list[dict]:
    """``archive`` rows: the kept models, best competition score first."""
    return [
        {"generation": generation, "model_id": m, "rank": i, "fitness": update.fitness[m],
         "competition_score": update.competition[m]}
        for i, m in enumerate(update.kept)
    ]
