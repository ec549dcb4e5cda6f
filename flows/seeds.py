"""The seed population: shipped or user-named seed models, the task set, and the experts
fine-tuned from the base.  Generation 0 starts with it; ``acdc seeds build`` runs it alone."""

from __future__ import annotations

from prefect import flow, get_run_logger

from acdc_core.hashing import stable_hash
from acdc_core.steps import Seed, base_model_id
from acdc_core.taskfamily import TaskSet
from tasks.experts import build_expert, is_built, replay_answers, replay_prompts
from tasks.run_folder import RunContext, choose_config, init_run
from tasks.seeding import load_task_set, prepare_seeds


def seed_population(run_dir: str) -> tuple[list[Seed], TaskSet]:
    """Seeds (the base first among them), built experts, and the task set, each a cached step."""
    ctx = RunContext.load(run_dir)
    seeds = [Seed.from_entry(e) for e in prepare_seeds(run_dir)]
    tasks = load_task_set(run_dir)
    base_id = base_model_id(seeds)
    exclude = sorted({inst.instructions for _, _, inst in tasks.instances()})
    specs = ctx.config.models.experts
    prompts = replay_prompts(specs, exclude, ctx.config.evaluation.prompt_template)
    replay_set = stable_hash(prompts)
    replay: dict[str, dict] = {}
    if prompts and not all(is_built(ctx, s, base_id, exclude, replay_set) for s in specs):
        replay = dict(zip(prompts, replay_answers(run_dir, base_id, prompts)))
    experts = []
    for spec in specs:
        mine = set(replay_prompts([spec], exclude, ctx.config.evaluation.prompt_template)) if replay else set()
        entry = build_expert(run_dir, base_id, spec.model_dump(mode="json"), exclude, replay_set,
                             {p: replay[p] for p in mine})
        experts.append(Seed.from_entry(entry))
    return seeds + experts, tasks


@flow(name="acdc-seeds", flow_run_name="seeds")
def seeds_flow(run_dir: str = "runs/default", config_path: str | None = None, fresh: bool = False) -> list[Seed]:
    """Build (or reuse) the seed population of the run in ``run_dir`` without running a
    generation; a later ``acdc run`` on the same folder starts from it.

    Returns the seed population (see ``seed_population``).
    """
    ctx = init_run(run_dir, choose_config(run_dir, config_path, fresh), fresh=fresh)
    seeds, _ = seed_population(str(ctx.run_dir))
    for s in seeds:
        get_run_logger().info("seed %s (%s): %s", s.name, s.source, s.model_id)
    return seeds
