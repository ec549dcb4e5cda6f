"""One AC/DC generation as a Prefect flow (ALGORITHM.md "One generation").

Generation 0 builds the initial population (seed models, the experts fine-tuned from the base,
mutants spread over the seeds, the task set); every later generation breeds children from the
archive.  Both then run the same line: each child made in memory, its gibberish screen and
evaluation in one model session -> DNS archive update on skill vectors -> the kept children's
weights written to the blob store (the others stay recipes) and their answers to the retired tasks ->
children compared with their parents ->
task adaptation (every ``adaptation.every`` generations, on pass rates that include the
children just admitted) -> task-archive diversity and coverage -> one commit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from prefect import flow, get_run_logger

from acdc_core.adaptation import discriminating_share, pass_rates
from acdc_core.dns import candidate_status
from acdc_core.recipes import Candidate, ChildRecipe
from acdc_core.rng import rng_stream
from acdc_core.taskfamily import TaskSet
from acdc_core.transfer import NoiseFloor, credited_rows
from flows.adaptation import adapt_tasks
from flows.heldout import HeldoutOutcome, heldout_of, noise_floor_of, noise_rows
from flows.runner import each
from flows.seeds import seed_population
from storage.db import GenerationCommit
from tasks.adaptation import embed_tasks, task_diversity
from tasks.archive import (
    archive_metrics,
    archive_rows,
    candidate_rows,
    child_effect_rows,
    commit_generation,
    task_rows,
    update_archive,
)
from tasks.breeding import discard_children, make_child, propose, store_child
from tasks.context import MODEL_POOL, RunContext
from tasks.evaluation import answer_retired, evaluate_model, screen_and_evaluate
from tasks.progress import StepProgress


def _gibberish_prompts(tasks: TaskSet, n: int, template: str, rng: np.random.Generator) -> list[str]:
    pool = [inst.instructions for _, _, inst in tasks.instances()]
    return [template.format(instructions=pool[i]) for i in rng.choice(len(pool), size=min(n, len(pool)), replace=False)]


def _seed_rows(seeds: list[dict]) -> tuple[list[dict], list[str]]:
    """``models`` rows for the seeds and the base, and the ids that join the population."""
    rows = [{
        "model_id": s["model_id"], "uri": s["uri"], "parents": [], "operator": s["role"],
        "recipe": {"name": s["name"], "source": s["source"], "is_base": s["is_base"], **s.get("recipe", {})},
        "merge_config_yaml": None, "seed": None,
    } for s in seeds]
    return rows, [s["model_id"] for s in seeds if s["role"] == "seed"]


def _history_embeddings(run_dir: str, ctx: RunContext, generation: int, tasks: TaskSet) -> list[dict]:
    """``task_embeddings`` rows of the whole task history (generation 0: the seed tasks).
    Families stored without one (a run started before embeddings existed) are embedded now;
    rows computed here carry ``"new": True`` and are committed with the generation."""
    if generation == 0:
        return [{**e, "new": True} for e in embed_tasks(run_dir, tasks, generation)]
    history = ctx.db.task_history()
    rows = [{"task_id": h["task_id"], "embedding": h["embedding"]} for h in history if h["embedding"] is not None]
    missing = [h["task_id"] for h in history if h["embedding"] is None]
    if missing:
        rows += [{**e, "new": True} for e in embed_tasks(run_dir, TaskSet.from_rows(ctx.db.task_families(missing)),
                                                            generation)]
    return rows


def _task_side(run_dir: str, ctx: RunContext, generation: int, tasks: TaskSet, kept: list[str],
               seed_ids: list[str], score_rows: list[tuple], evaluations: list[dict]) -> dict:
    """The task half of a generation: the seed task rows (generation 0), task adaptation when
    due, embeddings, the task archive's diversity, the share of active tasks that the kept
    archive ``kept`` splits, and its coverage of the active pool and of the whole task history,
    next to the seeds' coverage of that history.

    Args:
        tasks: the task set the generation evaluated on.
        seed_ids: the seed models; those outside ``kept`` answer the tasks an adaptation admits,
            so they have answered the whole history as the archive has.
        score_rows: (model_id, task_id, instance_id, score) of the archive before the update and
            of this generation's children on ``tasks``: the kept archive's rows are among them,
            committed or not, so adaptation sees the children it just admitted.
        evaluations: the generation's uncommitted evaluation rows.

    Returns:
        The generation's task rows ({"task_families", "task_instances", "task_embeddings",
        "task_proposals", "task_events", "task_clusters", "deactivate", "evaluations" (the
        archive on admitted tasks)}) and "metrics" {name: value}.
    """
    cfg = ctx.config
    thr, granularity = cfg.evaluation.solved_threshold, cfg.evaluation.skill_granularity
    history = _history_embeddings(run_dir, ctx, generation, tasks)
    families, instances = task_rows(tasks, generation) if generation == 0 else ([], [])
    adapted: dict = {"task_embeddings": [], "task_proposals": [], "task_events": [], "deactivate": [],
                     "evaluations": [], "stats": {}}
    every = cfg.adaptation.every
    if every and generation > 0 and generation % every == 0:
        rates = pass_rates(score_rows, kept, tasks.ids, thr, granularity)
        adapted = adapt_tasks(run_dir, generation, kept, history, rates, [m for m in seed_ids if m not in kept])
        families, instances = adapted["task_families"], adapted["task_instances"]
    active_ids = [t for t in tasks.ids if t not in adapted["deactivate"]]
    active_ids += [f["task_id"] for f in families if f["active"] and generation > 0]
    vectors = {e["task_id"]: e["embedding"] for e in history + adapted["task_embeddings"]}
    diversity = task_diversity(run_dir, generation, vectors, active_ids)
    fresh = [(r["model_id"], r["task_id"], r["instance_id"], r["score"]) for r in evaluations + adapted["evaluations"]]
    scores = ctx.db.all_scores(kept, active_ids) + fresh
    rates = pass_rates(scores, kept, active_ids, thr, granularity)
    solved, n_history = ctx.db.history_coverage_counts(kept, thr) if generation > 0 else (set(), 0)
    solved |= {f"{t}/{i}" for m, t, i, s in fresh if m in kept and s >= thr}
    by_seeds, _ = ctx.db.history_coverage_counts(seed_ids, thr) if generation > 0 else (set(), 0)
    by_seeds |= {f"{t}/{i}" for m, t, i, s in fresh if m in seed_ids and s >= thr}
    n_history += len(instances)
    new_embeddings = [{k: v for k, v in e.items() if k != "new"} for e in history if e.get("new")]
    return {
        "task_families": families, "task_instances": instances,
        "task_embeddings": new_embeddings + adapted["task_embeddings"],
        "task_proposals": adapted["task_proposals"], "task_events": adapted["task_events"],
        "task_clusters": diversity["clusters"], "deactivate": adapted["deactivate"],
        "evaluations": adapted["evaluations"],
        "metrics": {**diversity["metrics"], **adapted["stats"], "discriminating_share": discriminating_share(rates),
                    "coverage_history": len(solved) / n_history if n_history else 0.0,
                    "coverage_history_seeds": len(by_seeds) / n_history if n_history else 0.0,
                    "history_beyond_seeds": len(solved - by_seeds)},
    }


@dataclass(frozen=True)
class Population:
    """Who a generation breeds from and tests on.

    ``tasks``: the active task set; ``archive_ids``: the archive before this generation (empty
    in generation 0); ``trusted``: ``models`` rows of the seeds and base (generation 0), which
    skip the gibberish screen; ``seed_ids``: the seeds that join the population; ``parents``:
    the ids children are bred from.
    """

    tasks: TaskSet
    base_id: str
    archive_ids: list[str]
    trusted: list[dict]
    seed_ids: list[str]
    parents: list[str]


def _population(run_dir: str, ctx: RunContext, generation: int) -> Population:
    if generation == 0:
        seeds, tasks = seed_population(run_dir)
        trusted, seed_ids = _seed_rows(seeds)
        base_id = next(s["model_id"] for s in seeds if s["is_base"])
        return Population(tasks, base_id, [], trusted, seed_ids, seed_ids)
    archive_ids = ctx.db.archive_ids(generation - 1)
    return Population(TaskSet.from_rows(ctx.db.active_tasks()), ctx.db.base_model_id(), archive_ids, [], [],
                      archive_ids)


def _make_children(run_dir: str, ctx: RunContext, pop: Population, recipes: list[ChildRecipe], log,
                   prefix: str) -> list[Candidate]:
    """The children of ``recipes``, without those whose weights equal a known model's."""
    made, known = [], set(ctx.db.models()["model_id"]) | {t["model_id"] for t in pop.trusted}
    step = StepProgress(log, prefix, "make child", len(recipes))
    for r in recipes:
        child = make_child(run_dir, r)
        if child.model_id in known:
            log.info("child %s equals an existing model; dropped", child.model_id)
        else:
            known.add(child.model_id)
            made.append(child)
        step.tick(f"{child.operator} -> {child.model_id}")
    return made


def _evaluate(run_dir: str, ctx: RunContext, generation: int, pop: Population, made: list[Candidate], log,
              prefix: str) -> tuple[list[dict], dict[str, dict]]:
    """Evaluation rows of the seeds (generation 0) and of every child that passes its gibberish
    screen (one model session each), and each child's screen verdict by id."""
    cfg = ctx.config
    set_hash = pop.tasks.hash
    step = StepProgress(log, prefix, "evaluate seed", len(pop.seed_ids))
    seed_rows = each(evaluate_model, [{"run_dir": run_dir, "model_id": m, "task_set": set_hash, "tasks": pop.tasks}
                                      for m in pop.seed_ids],
                     lambda call, rows: step.tick(f"{call['model_id']} mean score "
                                                  f"{np.mean([r['score'] for r in rows]):.3f}"))
    evaluations: list[dict] = [r for rows in seed_rows for r in rows]
    g_rng = rng_stream(cfg.run.seed, generation, "gibberish")
    prompts = _gibberish_prompts(pop.tasks, cfg.gibberish.samples, cfg.evaluation.prompt_template, g_rng)
    step = StepProgress(log, prefix, "screen + evaluate child", len(made))
    results = each(screen_and_evaluate,
                   [{"run_dir": run_dir, "child": c, "task_set": set_hash, "tasks": pop.tasks, "prompts": prompts}
                    for c in made],
                   lambda _call, res: step.tick(f"{res['model_id']} gibberish" if res["is_gibberish"] else
                                                f"{res['model_id']} mean score "
                                                f"{np.mean([r['score'] for r in res['rows']]):.3f}"))
    verdicts = {res["model_id"]: res for res in results}
    evaluations += [r for res in results for r in res["rows"]]
    return evaluations, verdicts


def _answer_retired(run_dir: str, ctx: RunContext, made: list[Candidate], status: dict[str, str], log,
                    prefix: str) -> list[dict]:
    """Evaluation rows of this generation's admitted children on the retired families of the
    task history (``evaluation.answer_retired``; none in generation 0)."""
    admitted = [c for c in made if status[c.model_id] == "admitted"]
    tasks = TaskSet.from_rows(ctx.db.retired_tasks() if admitted and ctx.config.evaluation.answer_retired else [])
    if not tasks:
        return []
    set_hash = tasks.hash
    step = StepProgress(log, prefix, "answer retired tasks", len(admitted))
    answers = each(answer_retired, [{"run_dir": run_dir, "child": c, "task_set": set_hash, "tasks": tasks}
                                    for c in admitted],
                   lambda call, _rows: step.tick(call["child"].model_id))
    return [r for rows in answers for r in rows]


def _commit(pool_counts: tuple[int, int], generation: int, pop: Population, made: list[Candidate], verdicts: dict,
            evaluations: list[dict], update: dict, status: dict[str, str], effects: list[dict],
            effect_metrics: dict, side: dict, noise: NoiseFloor, heldout: HeldoutOutcome,
            seconds: float) -> GenerationCommit:
    """The generation's one commit: candidates, lineage, tasks, evaluations, archive, metrics,
    and the transfer side (held-out instances and answers, the noise floor)."""
    loads, reuses = pool_counts  # the resident pool's loads and hits when the generation began
    n_gibberish = sum(1 for c in made if status[c.model_id] == "gibberish")
    n_admitted = sum(1 for c in made if status[c.model_id] == "admitted")
    model_rows, lineage = candidate_rows(generation, pop.trusted, made, verdicts, status)
    extra = {**side["metrics"], **effect_metrics, **heldout.coverage.metrics(),
             "archive_model_loads": MODEL_POOL.loads - loads, "archive_model_reuses": MODEL_POOL.hits - reuses,
             "archive_evicted": sum(1 for v in status.values() if v == "evicted")}
    return GenerationCommit(
        generation=generation, n_candidates=len(made), n_gibberish=n_gibberish, n_admitted=n_admitted,
        seconds=seconds, models=model_rows, lineage=lineage, task_families=side["task_families"],
        task_instances=side["task_instances"],
        evaluations=[{**r, "generation": generation} for r in evaluations + side["evaluations"]],
        archive=archive_rows(generation, update),
        metrics=archive_metrics(generation, update, len(made), n_gibberish, n_admitted, seconds)
        + [{"generation": generation, "name": k, "value": float(v)} for k, v in extra.items()],
        task_embeddings=side["task_embeddings"], task_proposals=side["task_proposals"],
        task_events=side["task_events"], task_clusters=side["task_clusters"], deactivate=side["deactivate"],
        child_effects=effects, heldout_instances=heldout.instances, heldout_draws=heldout.draws,
        heldout_answers=heldout.answers,
        noise_floor=noise_rows(generation, noise, {e["model_id"]: tuple(e["parents"]) for e in effects}),
    )


def _tell(run_dir: str, ctx: RunContext, pop: Population, made: list[Candidate], verdicts: dict[str, dict],
          evaluations: list[dict], noise: NoiseFloor) -> tuple[dict, dict[str, str], list[tuple]]:
    """The archive update (:func:`tasks.archive.update_archive`) over the archive, the seeds and
    the children that passed their screen (with ``noise.aware_selection``, each child credited
    only with the finds its parents do not reach when sampled); each candidate's status
    (admitted, rejected, gibberish, evicted, kept); and the (model_id, task_id, instance_id,
    score) rows of the evaluations, as stored."""
    survivors = [c.model_id for c in made if not verdicts[c.model_id]["is_gibberish"]]
    score_rows = ctx.db.evaluation_scores(pop.archive_ids) + [
        (r["model_id"], r["task_id"], r["instance_id"], r["score"]) for r in evaluations]
    seen = credited_rows(score_rows, noise) if ctx.config.noise.aware_selection else score_rows
    update = update_archive(run_dir, pop.archive_ids + pop.seed_ids + survivors, seen, pop.tasks.ids)
    status = candidate_status(pop.archive_ids, pop.seed_ids + [c.model_id for c in made],
                              [c.model_id for c in made if c.model_id not in survivors], update["kept"])
    return update, status, score_rows


def _child_effects(ctx: RunContext, generation: int, pop: Population, made: list[Candidate],
                   verdicts: dict[str, dict], evaluations: list[dict]) -> tuple[list[dict], dict]:
    """What the screened children found that their parents do not
    (:func:`tasks.archive.child_effect_rows`)."""
    children = [c for c in made if not verdicts[c.model_id]["is_gibberish"]]
    answers = ctx.db.answers(sorted({p for c in children for p in c.parents}), pop.tasks.ids)
    answers += [(r["model_id"], r["task_id"], r["instance_id"], r["submission"], r["score"]) for r in evaluations]
    return child_effect_rows(generation, children, answers, ctx.config.evaluation.solved_threshold)


def _log_summary(log, prefix: str, commit: GenerationCommit, update: dict, status: dict[str, str],
                 effect_metrics: dict, side: dict, noise: NoiseFloor, heldout: HeldoutOutcome) -> None:
    cov = heldout.coverage
    held = (f", {cov.archive:.2f} of the {cov.n} held-out instances (seeds {cov.seeds:.2f}; {cov.beyond_seeds} no "
            "seed solves)") if cov.n else ""
    survive = f" ({noise.metrics()['children_new_robust']} survive the parents' resampling)" if noise.samples else ""
    log.info(
        "%s committed: %d candidates, %d gibberish, %d admitted, %d evicted, %d instances solved by a child and no "
        "parent%s; "
        "archive %d (%d distinct skill vectors), best fitness %.3f; coverage %.2f of the task history (seeds %.2f; "
        "%d instances no seed solves)%s, %.2f of the active pool; tasks %d active (%.0f%% discriminating), "
        "Vendi %.2f cumulative; %.0f s",
        prefix, commit.n_candidates, commit.n_gibberish, commit.n_admitted, list(status.values()).count("evicted"),
        effect_metrics.get("children_new_instances", 0), survive, len(update["kept"]),
        update["distinct"], max(update["fitness"][m] for m in update["kept"]),
        side["metrics"]["coverage_history"], side["metrics"]["coverage_history_seeds"],
        side["metrics"]["history_beyond_seeds"], held,
        update["coverage_instances"], side["metrics"]["tasks_active"],
        100 * side["metrics"]["discriminating_share"], side["metrics"]["vendi_cumulative"], commit.seconds,
    )


@flow(name="acdc-generation", flow_run_name="generation-{generation}")
def generation_flow(run_dir: str, generation: int) -> dict:
    """Run generation ``generation`` of the run in ``run_dir`` and commit it.

    Returns the generation's summary: {"generation", "committed", "kept", "best_fitness",
    "n_candidates", "n_gibberish", "n_admitted", "seconds"}.
    """
    t0, loads = time.perf_counter(), (MODEL_POOL.loads, MODEL_POOL.hits)
    ctx, log = RunContext.load(run_dir), get_run_logger()
    prefix = f"[gen {generation}/{ctx.config.run.generations}]"
    pop = _population(run_dir, ctx, generation)
    recipes = propose(run_dir, generation, pop.parents, pop.base_id)  # ask
    made = _make_children(run_dir, ctx, pop, recipes, log, prefix)  # make, in memory
    evaluations, verdicts = _evaluate(run_dir, ctx, generation, pop, made, log, prefix)  # screen + evaluate
    effects, effect_metrics = _child_effects(ctx, generation, pop, made, verdicts, evaluations)
    noise = noise_floor_of(run_dir, ctx, generation, pop.tasks, effects)  # parents re-sampled on the finds
    update, status, score_rows = _tell(run_dir, ctx, pop, made, verdicts, evaluations, noise)  # tell
    made = [c.model_copy(update={"uri": store_child(run_dir, c)}) if status[c.model_id] == "admitted" else c
            for c in made]  # only the kept children are written
    retired_rows = _answer_retired(run_dir, ctx, made, status, log, prefix)
    discard_children()  # the rest are remade from their recipes when ever needed
    evaluations += retired_rows  # stored, and counted in the history coverage; not in skill vectors
    seed_ids = pop.seed_ids or ctx.db.seed_ids()
    side = _task_side(run_dir, ctx, generation, pop.tasks, update["kept"], seed_ids, score_rows, evaluations)  # adapt
    heldout = heldout_of(run_dir, ctx, generation, pop.tasks, side, update["kept"], seed_ids)  # transfer
    commit = _commit(loads, generation, pop, made, verdicts, evaluations, update, status, effects,
                     {**effect_metrics, **noise.metrics()}, side, noise, heldout, time.perf_counter() - t0)
    committed = commit_generation(run_dir, commit)  # commit
    _log_summary(log, prefix, commit, update, status, effect_metrics, side, noise, heldout)
    return {
        "generation": generation, "committed": committed, "kept": update["kept"],
        "best_fitness": max(update["fitness"][m] for m in update["kept"]), "n_candidates": commit.n_candidates,
        "n_gibberish": commit.n_gibberish, "n_admitted": commit.n_admitted, "seconds": commit.seconds,
    }
