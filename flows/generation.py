"""One AC/DC generation as a Prefect flow (ALGORITHM.md "One generation").

Generation 0 builds the initial population (seed models, the experts fine-tuned from the base,
mutants spread over the seeds, the task set); every later generation breeds children from the
archive.  Both then run the same line: each child made, gibberish-screened and evaluated in one
step where it runs (the flow never holds its weights) -> DNS archive update on skill vectors ->
the kept children's staged folders moved to the blob store (the others stay recipes) and their
answers to the retired tasks ->
children compared with their parents ->
task adaptation (every ``adaptation.every`` generations, on pass rates that include the
children just admitted) -> task-archive diversity and coverage -> one commit.
"""

from __future__ import annotations

import time

from prefect import flow, get_run_logger

from acdc_core.recipes import Candidate, ChildRecipe
from acdc_core.steps import GenerationSummary, Population, TaskChanges, Tell, Verdict, new_children
from acdc_core.taskfamily import TaskSet
from flows.adaptation import adapt_tasks
from flows.heldout import heldout_of, noise_floor_of
from flows.runner import each
from flows.seeds import seed_population
from tasks.adaptation import adaptation_due, archive_pass_rates, history_embeddings, task_side
from tasks.archive import (
    child_effects_of,
    commit_batch,
    commit_generation,
    known_model_ids,
    population_after,
    stored_seed_ids,
    tell,
)
from tasks.breeding import discard_staged, gibberish_prompts, propose, store_child
from tasks.evaluation import answer_retired, breed_child, evaluate_model, retired_task_set
from tasks.progress import StepProgress, bred_line, generation_line, mean_score
from tasks.run_folder import RunContext
from tasks.sessions import pool_counts


def _population(run_dir: str, generation: int) -> Population:
    if generation == 0:
        return Population.initial(*seed_population(run_dir))
    return population_after(run_dir, generation - 1)


def _evaluate(run_dir: str, generation: int, pop: Population, recipes: list[ChildRecipe], log,
              prefix: str) -> tuple[list[Candidate], list[dict], dict[str, Verdict]]:
    """The seeds' evaluation rows (generation 0), then each child of ``recipes`` made, screened
    and evaluated where it runs (one step each): the new children, the rows of the seeds and of
    every child that passed its screen, and each new child's :class:`Verdict` by id."""
    step = StepProgress(log, prefix, "evaluate seed", len(pop.seed_ids))
    seed_answers = each(evaluate_model, [{"run_dir": run_dir, "model_id": m, "task_set": pop.tasks.hash,
                                          "tasks": pop.tasks} for m in pop.seed_ids],
                        lambda call, rows: step.tick(f"{call['model_id']} mean score {mean_score(rows):.3f}"))
    known, prompts = sorted(known_model_ids(run_dir, pop.trusted)), gibberish_prompts(run_dir, generation, pop.tasks)
    step = StepProgress(log, prefix, "make + screen + evaluate child", len(recipes))
    bred = each(breed_child, [{"run_dir": run_dir, "recipe": r, "known": known, "task_set": pop.tasks.hash,
                               "tasks": pop.tasks, "prompts": prompts} for r in recipes],
                lambda _call, b: step.tick(bred_line(b)))
    made, verdicts = new_children(bred)
    evaluations = [r for rows in seed_answers for r in rows] + [r for c in made for r in verdicts[c.model_id].rows]
    return made, evaluations, verdicts


def _store_admitted(run_dir: str, made: list[Candidate], told: Tell) -> list[Candidate]:
    """``made`` with the admitted children written to the blob store (their ``uri`` set); the
    others stay recipes, remade when ever needed."""
    return [c.model_copy(update={"uri": store_child(run_dir, c)}) if told.status[c.model_id] == "admitted" else c
            for c in made]


def _answer_retired(run_dir: str, made: list[Candidate], told: Tell, log, prefix: str) -> list[dict]:
    """Evaluation rows of this generation's admitted children on the sample of the task history's
    retired instances (``evaluation.answer_retired``, ``retired_sample``; none in generation 0)."""
    admitted = [c for c in made if told.status[c.model_id] == "admitted"]
    tasks = retired_task_set(run_dir) if admitted else TaskSet()
    if not tasks:
        return []
    step = StepProgress(log, prefix, "answer retired tasks", len(admitted))
    answers = each(answer_retired, [{"run_dir": run_dir, "child": c, "task_set": tasks.hash, "tasks": tasks}
                                    for c in admitted],
                   lambda call, _rows: step.tick(call["child"].model_id))
    return [r for rows in answers for r in rows]


def _adapt(run_dir: str, generation: int, pop: Population, told: Tell, seed_ids: list[str]) -> TaskChanges:
    """The task adaptation's changes when one is due after ``generation``, else none."""
    if not adaptation_due(run_dir, generation):
        return TaskChanges()
    kept = told.update.kept
    rates = archive_pass_rates(run_dir, told.score_rows, kept, pop.tasks.ids)
    return adapt_tasks(run_dir, generation, kept, rates, [m for m in seed_ids if m not in kept])


@flow(name="acdc-generation", flow_run_name="generation-{generation}")
def generation_flow(run_dir: str, generation: int) -> GenerationSummary:
    """Run generation ``generation`` of the run in ``run_dir`` and commit it."""
    t0, counts = time.perf_counter(), pool_counts()
    log = get_run_logger()
    prefix = f"[gen {generation}/{RunContext.load(run_dir).config.run.generations}]"
    pop = _population(run_dir, generation)
    recipes = propose(run_dir, generation, pop.parents, pop.base_id)  # ask
    made, evaluations, verdicts = _evaluate(run_dir, generation, pop, recipes, log, prefix)  # make, screen, evaluate
    effects = child_effects_of(run_dir, generation, pop.tasks, made, verdicts, evaluations)
    noise = noise_floor_of(run_dir, generation, pop.tasks, effects)  # parents re-sampled on the finds
    told = tell(run_dir, pop, made, verdicts, evaluations, noise)  # tell
    made = _store_admitted(run_dir, made, told)
    discard_staged(run_dir, made)
    evaluations += _answer_retired(run_dir, made, told, log, prefix)  # in the history coverage, not in skills
    seed_ids = pop.seed_ids or stored_seed_ids(run_dir)
    history = history_embeddings(run_dir, generation, pop.tasks)
    changes = _adapt(run_dir, generation, pop, told, seed_ids)  # adapt
    side = task_side(run_dir, generation, pop.tasks, told.update.kept, history, changes, evaluations)
    heldout = heldout_of(run_dir, generation, pop.tasks, side, told.update.kept, seed_ids)  # transfer
    batch = commit_batch(run_dir, generation, pop, made, verdicts, evaluations, told, effects, noise, side, heldout,
                         counts, time.perf_counter() - t0)
    done = commit_generation(run_dir, batch)  # commit
    log.info(generation_line(prefix, done.metrics))
    return GenerationSummary(generation, done.committed, told.update.kept, told.update.best_fitness,
                             batch.n_candidates, batch.n_gibberish, batch.n_admitted, batch.seconds)
