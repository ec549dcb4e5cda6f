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

from prefect import flow, get_run_logger

from acdc_core.recipes import Candidate, ChildRecipe
from acdc_core.steps import GenerationSummary, Population, TaskChanges, Tell, Verdict
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
from tasks.breeding import gibberish_prompts, make_child, propose, store_child
from tasks.evaluation import answer_retired, evaluate_model, retired_task_set, screen_and_evaluate
from tasks.progress import StepProgress, generation_line, mean_score
from tasks.run_folder import RunContext
from tasks.sessions import discard_children, pool_counts


def _population(run_dir: str, generation: int) -> Population:
    if generation == 0:
        return Population.initial(*seed_population(run_dir))
    return population_after(run_dir, generation - 1)


def _make_children(run_dir: str, pop: Population, recipes: list[ChildRecipe], log, prefix: str) -> list[Candidate]:
    """The children of ``recipes``, without those whose weights equal a known model's."""
    made, known = [], known_model_ids(run_dir, pop.trusted)
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


def _evaluate(run_dir: str, generation: int, pop: Population, made: list[Candidate], log,
              prefix: str) -> tuple[list[dict], dict[str, Verdict]]:
    """Evaluation rows of the seeds (generation 0) and of every child that passes its gibberish
    screen (one model session each), and each child's :class:`Verdict` by id."""
    step = StepProgress(log, prefix, "evaluate seed", len(pop.seed_ids))
    seed_answers = each(evaluate_model, [{"run_dir": run_dir, "model_id": m, "task_set": pop.tasks.hash,
                                          "tasks": pop.tasks} for m in pop.seed_ids],
                        lambda call, rows: step.tick(f"{call['model_id']} mean score {mean_score(rows):.3f}"))
    prompts = gibberish_prompts(run_dir, generation, pop.tasks)
    step = StepProgress(log, prefix, "screen + evaluate child", len(made))
    verdicts = each(screen_and_evaluate, [{"run_dir": run_dir, "child": c, "task_set": pop.tasks.hash,
                                           "tasks": pop.tasks, "prompts": prompts} for c in made],
                    lambda _call, v: step.tick(f"{v.model_id} gibberish" if v.is_gibberish else
                                               f"{v.model_id} mean score {mean_score(v.rows):.3f}"))
    evaluations = [r for rows in seed_answers for r in rows] + [r for v in verdicts for r in v.rows]
    return evaluations, {v.model_id: v for v in verdicts}


def _store_admitted(run_dir: str, made: list[Candidate], told: Tell) -> list[Candidate]:
    """``made`` with the admitted children written to the blob store (their ``uri`` set); the
    others stay recipes, remade when ever needed."""
    return [c.model_copy(update={"uri": store_child(run_dir, c)}) if told.status[c.model_id] == "admitted" else c
            for c in made]


def _answer_retired(run_dir: str, made: list[Candidate], told: Tell, log, prefix: str) -> list[dict]:
    """Evaluation rows of this generation's admitted children on the retired families of the
    task history (``evaluation.answer_retired``; none in generation 0)."""
    admitted = [c for c in made if told.status[c.model_id] == "admitted"]
    tasks = retired_task_set(run_dir) if admitted else TaskSet()
    if not tasks:
        return []
    step = StepProgress(log, prefix, "answer retired tasks", len(admitted))
    answers = each(answer_retired, [{"run_dir": run_dir, "child": c, "task_set": tasks.hash, "tasks": tasks}
                                    for c in admitted],
                   lambda call, _rows: step.tick(call["child"].model_id))
    return [r for rows in answers for r in rows]


def _adapt(run_dir: str, generation: int, pop: Population, told: Tell, history: list[dict],
           seed_ids: list[str]) -> TaskChanges:
    """The task adaptation's changes when one is due after ``generation``, else none."""
    if not adaptation_due(run_dir, generation):
        return TaskChanges()
    kept = told.update.kept
    rates = archive_pass_rates(run_dir, told.score_rows, kept, pop.tasks.ids)
    return adapt_tasks(run_dir, generation, kept, history, rates, [m for m in seed_ids if m not in kept])


@flow(name="acdc-generation", flow_run_name="generation-{generation}")
def generation_flow(run_dir: str, generation: int) -> GenerationSummary:
    """Run generation ``generation`` of the run in ``run_dir`` and commit it."""
    t0, counts = time.perf_counter(), pool_counts()
    log = get_run_logger()
    prefix = f"[gen {generation}/{RunContext.load(run_dir).config.run.generations}]"
    pop = _population(run_dir, generation)
    recipes = propose(run_dir, generation, pop.parents, pop.base_id)  # ask
    made = _make_children(run_dir, pop, recipes, log, prefix)  # make, in memory
    evaluations, verdicts = _evaluate(run_dir, generation, pop, made, log, prefix)  # screen + evaluate
    effects = child_effects_of(run_dir, generation, pop.tasks, made, verdicts, evaluations)
    noise = noise_floor_of(run_dir, generation, pop.tasks, effects)  # parents re-sampled on the finds
    told = tell(run_dir, pop, made, verdicts, evaluations, noise)  # tell
    made = _store_admitted(run_dir, made, told)
    evaluations += _answer_retired(run_dir, made, told, log, prefix)  # in the history coverage, not in skills
    discard_children()
    seed_ids = pop.seed_ids or stored_seed_ids(run_dir)
    history = history_embeddings(run_dir, generation, pop.tasks)
    changes = _adapt(run_dir, generation, pop, told, history, seed_ids)  # adapt
    side = task_side(run_dir, generation, pop.tasks, told.update.kept, history, changes, evaluations)
    heldout = heldout_of(run_dir, generation, pop.tasks, side, told.update.kept, seed_ids)  # transfer
    batch = commit_batch(run_dir, generation, pop, made, verdicts, evaluations, told, effects, noise, side, heldout,
                         counts, time.perf_counter() - t0)
    done = commit_generation(run_dir, batch)  # commit
    log.info(generation_line(prefix, done.metrics))
    return GenerationSummary(generation, done.committed, told.update.kept, told.update.best_fitness,
                             batch.n_candidates, batch.n_gibberish, batch.n_admitted, batch.seconds)
