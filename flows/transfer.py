"""``acdc transfer``: does the run's gain hold outside its pool?

After a run, :func:`transfer_flow` fills in what every model ever archived has not answered,
samples the best seed, and compares task forces chosen on the history with the baselines on the
held-out instances (``transfer_results``).  It imports the assessment code, which the run itself
never loads (``flows/heldout.py`` is the in-run half).
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from acdc_core.assessment.transfer_sets import best_seed, transfer_sets
from flows.heldout import answer_missing
from tasks.assessment import assessed_pool, fill_global_skills
from tasks.run_folder import RunContext, upgrade_schema
from tasks.transfer import (
    heldout_pool,
    heldout_solved,
    history_skills,
    missing_heldout,
    missing_samples,
    sampled_solved,
    save_transfer,
    store_heldout_answers,
)


@flow(name="acdc-transfer", flow_run_name="transfer")
def transfer_flow(run_dir: str, samples: int = 8, temperature: float = 0.7,
                  sizes: tuple[int, ...] = (3, 8)) -> list[dict]:
    """Does the run's gain hold outside its pool?  After the last committed generation: every
    model ever archived and every seed answers the history instances (as ``acdc assess`` fills
    them) and the held-out instances it has not answered; the best seed (highest mean score over
    the history) answers each held-out instance ``samples`` times at ``temperature``; then the
    sets of :func:`acdc_core.assessment.transfer_sets.transfer_sets` are written to ``transfer_results``.

    Returns the ``transfer_results`` rows.

    Raises:
        LookupError: when no generation is committed yet, or the run has no held-out instances
            (``heldout.instances`` 0).
    """
    ctx, log = RunContext.load(run_dir), get_run_logger()
    upgrade_schema(ctx)  # this writer adds the tables a run older than them lacks
    measured = assessed_pool(ctx, "check")
    generation, seed_ids, pool_ids = measured.generation, measured.seed_ids, measured.pool_ids
    filled = fill_global_skills(run_dir, ctx, pool_ids, generation)
    heldout = heldout_pool(run_dir)
    if not heldout:
        raise LookupError(f"{run_dir}: the run has no held-out instances (heldout.instances is 0, or it began "
                          "before they existed and never ran a generation since)")
    missing = missing_heldout(run_dir, pool_ids)
    store_heldout_answers(ctx, generation, answer_missing(run_dir, heldout, missing))
    select, history = history_skills(run_dir, pool_ids)
    keys = [f"{f.task_id}/{i}" for f, i, _ in heldout.instances()]
    held = heldout_solved(run_dir, pool_ids, keys)
    best = pool_ids[best_seed(select, [pool_ids.index(s) for s in seed_ids])]
    asked = {t: [i for i in f.instances] for t, f in heldout.by_id().items()}
    if missing_samples(run_dir, best, asked, samples, temperature):
        store_heldout_answers(ctx, generation, answer_missing(run_dir, heldout, {best: asked}, samples, temperature))
    sampled = sampled_solved(run_dir, best, keys, samples, temperature)
    sets = transfer_sets(pool_ids, seed_ids, measured.ever_archived, measured.final_archive, select, history, held,
                         sampled, list(sizes))
    out = [{**s, "generation": generation, "n_heldout": len(keys), "n_history": history.shape[1]} for s in sets]
    save_transfer(ctx, generation, out)
    log.info("transfer after generation %d: %d models, %d history pairs filled, %d held-out instances; %s",
             generation, len(pool_ids), filled, len(keys),
             "; ".join(f"{s['set_name']} {s['coverage_heldout']:.3f}" for s in out))
    return out

