"""Integration: the loop sees what its children find (issue 11), in a real ``acdc run`` on pico
models.

The run has two pico seeds and three task families written for it:

- ``differs_from_seeds``: an instance passes when the answer differs from what both seeds
  answer (their answers are computed here first, with the run's own backend and prompts), so
  the seeds fail every instance and any child that answers otherwise solves it;
- ``never_solved``: nothing passes;
- ``always_solved``: any answer passes.

Adaptation runs after generations 1 and 2 with ``drop_unsolved_after: 2`` and no pool floor.
A second, one-generation run keeps the default floor (the seed set's size) and drops at once.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from helpers.runs import acdc, acdc_env, table

from acdc_core.adapters.backends.hf import HFBackend
from acdc_core.answers import submission_for
from acdc_core.config import EvaluationSection

pytestmark = pytest.mark.slow
N_INSTANCES = 4

_DIFFERS = '''"""Passes when the answer differs from both seeds' answers (test only)."""

METADATA = {{"name": "differs_from_seeds", "description": "Say anything the seeds do not say (test only).",
            "capability": "test", "domain": "test"}}
SEED_ANSWERS = {answers!r}


class TaskFamily:
    @staticmethod
    def get_tasks():
        return {{str(i): {{"i": i, "answer": ""}} for i in range({n})}}

    @staticmethod
    def get_instructions(t):
        return "Name a colour number " + str(t["i"]) + "."

    @staticmethod
    def score(t, submission):
        return 0.0 if submission.strip() in SEED_ANSWERS[str(t["i"])] else 1.0
'''

_CONSTANT = '''"""Scores {value} whatever the answer (test only)."""

METADATA = {{"name": "{name}", "description": "A task scored {value} for any answer (test only).",
            "capability": "test", "domain": "test"}}


class TaskFamily:
    @staticmethod
    def get_tasks():
        return {{str(i): {{"i": i, "answer": "x"}} for i in range(4)}}

    @staticmethod
    def get_instructions(t):
        return "{name} question " + str(t["i"]) + "."

    @staticmethod
    def score(t, submission):
        return {value}
'''


def _seed_answers(seeds: list[Path], ev: EvaluationSection) -> dict[str, list[str]]:
    """What each seed answers to the instances of ``differs_from_seeds``, generated exactly as
    the run generates them: one greedy batch of every instance of the three families, in the
    run's order (families by name, instances by id), on one thread."""
    instructions = ([f"always_solved question {i}." for i in range(4)]
                    + [f"Name a colour number {i}." for i in range(N_INSTANCES)]
                    + [f"never_solved question {i}." for i in range(4)])
    prompts = [ev.prompt_template.format(instructions=text) for text in instructions]
    answers: dict[str, list[str]] = {str(i): [] for i in range(N_INSTANCES)}
    for seed in seeds:
        backend = HFBackend(str(seed), batch_size=ev.batch_size, torch_threads=ev.torch_threads, dtype=ev.dtype)
        try:
            gens = backend.generate(prompts, ev.max_new_tokens)
        finally:
            backend.close()
        for i, g in enumerate(gens[4:4 + N_INSTANCES]):
            answers[str(i)].append(submission_for(g.text))
    return answers


@pytest.fixture(scope="module")
def discovery_run(tmp_path_factory, pico_family):
    root = tmp_path_factory.mktemp("discovery")
    seeds = [pico_family["base"], pico_family["expert_a"]]
    ev = EvaluationSection(max_new_tokens=6, instances_per_task=N_INSTANCES, batch_size=64, torch_threads=1)
    families = root / "families"
    families.mkdir()
    (families / "differs_from_seeds.py").write_text(_DIFFERS.format(answers=_seed_answers(seeds, ev), n=N_INSTANCES))
    (families / "never_solved.py").write_text(_CONSTANT.format(name="never_solved", value=0.0))
    (families / "always_solved.py").write_text(_CONSTANT.format(name="always_solved", value=1.0))
    cfg = {
        "run": {"name": "discovery", "seed": 5, "generations": 2},
        "models": {"family": None, "seeds": [{"path": str(s), "name": f"pico{i}"} for i, s in enumerate(seeds)],
                   "initial_mutants": 0, "storage_dtype": "float32"},
        "population": {"archive_size": 6, "children_per_generation": 2},
        "crossover": {"method": "linear"},
        "mutation": {"method": "gaussian", "gaussian_std": 0.5},
        "gibberish": {"method": "none"},
        "evaluation": ev.model_dump(),
        "tasks": {"include": ["differs_from_seeds", "never_solved", "always_solved"], "extra_dirs": [str(families)]},
        "adaptation": {"every": 1, "parents": 1, "reflection_rounds": 0, "drop_unsolved_after": 2, "min_pool": 0},
    }
    (root / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    run_dir = root / "run"
    res = acdc(["run", "--config", str(root / "cfg.yaml"), "--run-dir", str(run_dir)], acdc_env(root))
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    task_id = {name: tid for tid, name in table(run_dir, "SELECT task_id, name FROM task_families")}
    return {"run_dir": run_dir, "task_id": task_id, "out": res.stdout + res.stderr}


def test_a_task_solved_only_by_this_generations_child_survives_adaptation(discovery_run):
    run_dir, tid = discovery_run["run_dir"], discovery_run["task_id"]["differs_from_seeds"]
    seeds = [r[0] for r in table(run_dir, "SELECT model_id FROM models WHERE operator = 'seed'")]
    # preconditions: the seeds fail every instance, a generation-1 child in the archive solves one
    assert table(run_dir, f"SELECT max(score) FROM evaluations WHERE task_id = '{tid}' "
                          f"AND list_contains({seeds}, model_id)")[0][0] == 0.0
    solvers = table(run_dir, f"""
        SELECT DISTINCT e.model_id FROM evaluations e JOIN models m USING (model_id)
        JOIN archive a ON a.model_id = e.model_id AND a.generation = 1
        WHERE e.task_id = '{tid}' AND e.score = 1 AND m.created_generation = 1""")
    assert solvers, "no generation-1 child solved differs_from_seeds; the test's premise failed"
    # the child's rows are committed with generation 1, after the adaptation that read them
    assert table(run_dir, f"SELECT DISTINCT generation FROM evaluations WHERE model_id = '{solvers[0][0]}'") == [(1,)]
    events = table(run_dir, f"SELECT generation, event FROM task_events WHERE task_id = '{tid}'")
    assert (1, "dropped_unsolved") not in events and (1, "unsolved") not in events
    assert table(run_dir, f"SELECT active FROM task_families WHERE task_id = '{tid}'")[0][0]


def test_unsolved_tasks_are_kept_once_then_dropped(discovery_run):
    run_dir, tid = discovery_run["run_dir"], discovery_run["task_id"]["never_solved"]
    events = table(run_dir, f"SELECT generation, event, detail FROM task_events WHERE task_id = '{tid}' ORDER BY 1")
    assert [(g, e) for g, e, _ in events] == [(1, "unsolved"), (2, "dropped_unsolved")]
    assert "1 of 2" in events[0][2]
    metrics = dict(table(run_dir, "SELECT name, value FROM metrics WHERE generation = 1"))
    assert metrics["tasks_unsolved_kept"] == 1 and metrics["tasks_dropped_unsolved"] == 0


def test_children_are_compared_with_their_parents(discovery_run):
    run_dir, tid = discovery_run["run_dir"], discovery_run["task_id"]["differs_from_seeds"]
    effects = table(run_dir, "SELECT generation, model_id, parents, n_compared, differ_share, n_new_solved, "
                             "n_lost_solved, new_solved FROM child_effects ORDER BY generation, model_id")
    children = table(run_dir, "SELECT created_generation, model_id FROM models WHERE created_generation > 0 ORDER BY 1, 2")
    assert [(g, m) for g, m, *_ in effects] == children  # every evaluated child, gibberish filter off
    for g, mid, parents, n_compared, differ, n_new, n_lost, new in effects:
        assert len(parents) == 2 and 0.0 <= differ <= 1.0 and n_new == len(new)
        assert n_compared >= 3 * N_INSTANCES  # the three seed families at least
        # recompute the new instances from the stored answers
        solved = {m: {f"{t}/{i}" for t, i in table(
            run_dir, f"SELECT task_id, instance_id FROM evaluations WHERE model_id = '{m}' AND score >= 0.5")}
            for m in [mid, *parents]}
        answered = {f"{t}/{i}" for t, i in table(
            run_dir, f"SELECT task_id, instance_id FROM evaluations WHERE model_id = '{mid}'")}
        both = {k for k in answered if all(k in {f"{t}/{i}" for t, i in table(
            run_dir, f"SELECT task_id, instance_id FROM evaluations WHERE model_id = '{p}'")} for p in parents)}
        assert set(new) == {k for k in solved[mid] & both if not any(k in solved[p] for p in parents)}
    gen1 = [e for e in effects if e[0] == 1]
    assert any(k.startswith(tid) for e in gen1 for k in e[7])
    per_gen = dict(table(run_dir, "SELECT generation, value FROM metrics WHERE name = 'children_new_instances'"))
    assert per_gen[1] == len({k for e in gen1 for k in e[7]})


def test_coverage_of_the_history_and_of_the_active_pool(discovery_run):
    run_dir = discovery_run["run_dir"]
    for g in (0, 1, 2):
        m = dict(table(run_dir, f"SELECT name, value FROM metrics WHERE generation = {g}"))
        archive = [r[0] for r in table(run_dir, f"SELECT model_id FROM archive WHERE generation = {g}")]
        n_hist = table(run_dir, f"SELECT count(*) FROM task_instances JOIN task_families USING (task_id) "
                                f"WHERE created_generation <= {g}")[0][0]
        solved = table(run_dir, f"""SELECT count(DISTINCT (e.task_id, e.instance_id)) FROM evaluations e
            JOIN task_families f USING (task_id) WHERE f.created_generation <= {g} AND e.generation <= {g}
            AND list_contains({archive}, e.model_id) AND e.score >= 0.5""")[0][0]
        assert m["coverage_history"] == pytest.approx(solved / n_hist)
        assert 0.0 < m["coverage_active"] <= 1.0 and m["distinct_skill_vectors"] >= 1
    seeds = [r[0] for r in table(run_dir, "SELECT model_id FROM models WHERE operator = 'seed'")]
    for g in (0, 1, 2):
        m = dict(table(run_dir, f"SELECT name, value FROM metrics WHERE generation = {g}"))
        archive = [r[0] for r in table(run_dir, f"SELECT model_id FROM archive WHERE generation = {g}")]
        history = {f"{t}/{i}" for t, i in table(run_dir, f"SELECT task_id, instance_id FROM task_instances "
                                                         f"JOIN task_families USING (task_id) WHERE created_generation <= {g}")}

        def solved_by(models):
            return {f"{t}/{i}" for t, i in table(run_dir, f"""SELECT task_id, instance_id FROM evaluations
                WHERE generation <= {g} AND list_contains({models}, model_id) AND score >= 0.5""")} & history

        for s in seeds:  # in the archive or not, every seed has answered the whole history
            assert {f"{t}/{i}" for t, i in table(run_dir, f"SELECT task_id, instance_id FROM evaluations "
                                                          f"WHERE model_id = '{s}' AND generation <= {g}")} >= history
        assert m["coverage_history_seeds"] == pytest.approx(len(solved_by(seeds)) / len(history))
        assert m["history_beyond_seeds"] == len(solved_by(archive) - solved_by(seeds))
    # the seeds fail differs_from_seeds everywhere; a generation-1 child of the archive solves some of it
    assert dict(table(run_dir, "SELECT name, value FROM metrics WHERE generation = 1"))["history_beyond_seeds"] >= 1
    # generation 0: only the seeds, who solve always_solved alone (4 of 12 instances)
    assert dict(table(run_dir, "SELECT name, value FROM metrics WHERE generation = 0"))["coverage_history"] == \
        pytest.approx(4 / 12)
    out = discovery_run["out"]
    assert "coverage of the whole task history" in out and "distinct skill vectors" in out


def test_the_pool_never_shrinks_below_its_initial_size(tmp_path, pico_family):
    families = tmp_path / "families"
    families.mkdir()
    for name, value in (("never_solved", 0.0), ("always_solved", 1.0)):
        (families / f"{name}.py").write_text(_CONSTANT.format(name=name, value=value))
    cfg = {
        "run": {"name": "floor", "seed": 3, "generations": 1},
        "models": {"family": None, "seeds": [{"path": str(pico_family["base"]), "name": "pico"}],
                   "initial_mutants": 2, "storage_dtype": "float32"},
        "population": {"archive_size": 3, "children_per_generation": 1},
        "mutation": {"method": "gaussian", "gaussian_std": 0.5},
        "gibberish": {"method": "none"},
        "evaluation": {"max_new_tokens": 4, "instances_per_task": 4, "batch_size": 64, "torch_threads": 1},
        "tasks": {"include": ["never_solved", "always_solved"], "extra_dirs": [str(families)]},
        "adaptation": {"every": 1, "parents": 1, "reflection_rounds": 0},  # min_pool: initial, drop at once
    }
    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    res = acdc(["run", "--config", str(tmp_path / "cfg.yaml"), "--run-dir", str(tmp_path / "run")], acdc_env(tmp_path))
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    run_dir = tmp_path / "run"
    m = dict(table(run_dir, "SELECT name, value FROM metrics WHERE generation = 1"))
    # never_solved is due to go: one novel task more is asked for to take its place
    assert m["tasks_refill_requests"] == 1 and m["tasks_proposed"] == 2
    assert table(run_dir, "SELECT count(*) FROM task_families WHERE active")[0][0] >= 2
    never = table(run_dir, "SELECT task_id, active FROM task_families WHERE name = 'never_solved'")[0]
    events = dict(table(run_dir, f"SELECT event, detail FROM task_events WHERE task_id = '{never[0]}'"))
    if m["tasks_admitted"] == 0:  # no refill made it: the floor keeps the unsolved task
        assert never[1] and "floor" in events["unsolved"] and "dropped_unsolved" not in events
    else:
        assert not never[1] and "dropped_unsolved" in events
