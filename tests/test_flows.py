"""Integration: whole runs under Prefect on pico models, in subprocesses like a user's.

Each run is a real ``acdc run`` process with its own PREFECT_HOME (a temporary Prefect server)
writing a real DuckDB file and real safetensors folders.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers.runs import TABLE_KEYS, acdc, acdc_env, pico_config, table

from acdc_core.adapters.backends.dtype import resolve_dtype
from acdc_core.adapters.candidates import build_weights
from acdc_core.adapters.weights import content_hash, load_weights, tensor_hash
from acdc_core.recipes import ChildRecipe

pytestmark = pytest.mark.slow
@pytest.fixture(scope="module")
def workspace(tmp_path_factory, pico_family):
    root = tmp_path_factory.mktemp("flows")
    cfg = root / "pico.yaml"
    cfg.write_text(yaml.safe_dump(pico_config(pico_family["base"])))
    return {"root": root, "config": cfg, "env": acdc_env(root)}


@pytest.fixture(scope="module")
def uninterrupted(workspace):
    run_dir = workspace["root"] / "run-a"
    res = acdc(["run", "--config", str(workspace["config"]), "--run-dir", str(run_dir)], workspace["env"])
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return run_dir, res.stdout + res.stderr


def test_two_generation_run_writes_expected_rows(uninterrupted):
    run_dir, out = uninterrupted
    assert table(run_dir, "SELECT generation FROM generations ORDER BY 1") == [(0,), (1,), (2,)]
    models = table(run_dir, "SELECT model_id, operator, created_generation, uri, merge_config_yaml FROM models")
    ops = sorted((m[2], m[1]) for m in models)
    assert ops[:4] == [(0, "mutate:gaussian")] * 3 + [(0, "seed")]
    children = [m for m in models if m[2] > 0]
    assert len(children) == 4 and all(m[1] == "linear+mutate:gaussian" for m in children)
    archived = {r[0] for r in table(run_dir, "SELECT DISTINCT model_id FROM archive")}
    # each new model says what its generation's archive update did with it
    admitted = table(run_dir, "SELECT m.model_id FROM models m JOIN archive a ON a.model_id = m.model_id "
                              "AND a.generation = m.created_generation WHERE m.created_generation > 0")
    status = dict(table(run_dir, "SELECT model_id, archive_status FROM models WHERE created_generation > 0"))
    assert {m for m, s in status.items() if s == "admitted"} == {m for (m,) in admitted}
    assert set(status.values()) <= {"admitted", "rejected"}  # gibberish screen off
    for mid, _, _, uri, merge_yaml in children:
        assert yaml.safe_load(merge_yaml)["merge_method"] == "linear"
        if status[mid] != "admitted":  # never kept: not written, a recipe only
            assert uri is None and not (run_dir / "blobs" / "models" / mid).exists()
            continue
        folder = Path(uri.removeprefix("file://"))
        assert folder.name == mid and content_hash(folder) == mid
        for f in ("config.json", "model.safetensors", "tokenizer.json", "mergekit_config.yml", "_COMPLETE"):
            assert (folder / f).exists(), f
    # a child that was not kept is remade bit for bit from its stored recipe and its parents' weights
    unstored = [m for m in children if m[3] is None]
    assert unstored and archived & {m[0] for m in children}
    stored = {m[0]: Path(m[3].removeprefix("file://")) for m in models if m[3]}
    for mid, *_ in unstored:
        recipe = ChildRecipe.model_validate_json(table(run_dir, f"SELECT recipe FROM models WHERE model_id = '{mid}'")[0][0])
        assert tensor_hash(build_weights(recipe, lambda p: load_weights(stored[p]), "float32")) == mid
    assert table(run_dir, "SELECT count(*) FROM lineage WHERE generation > 0")[0][0] == 8
    n_tasks = table(run_dir, "SELECT count(*) FROM task_families")[0][0]
    assert n_tasks == 6
    # every model (all are evaluated: gibberish filter off) answered every instance once
    assert table(run_dir, "SELECT count(*) FROM evaluations")[0][0] == len(models) * n_tasks * 2
    assert table(run_dir, "SELECT count(DISTINCT response) FROM evaluations")[0][0] > 1
    for g in range(3):
        archive = table(run_dir, f"SELECT model_id, rank, competition_score FROM archive WHERE generation={g} ORDER BY rank")
        assert 1 <= len(archive) <= 3
        assert archive[0][2] == float("inf")
    metrics = dict(table(run_dir, "SELECT name, value FROM metrics WHERE generation = 2"))
    assert metrics["archive_size"] == 3 and 0 <= metrics["best_fitness"] <= 1
    assert "generations done" in out and "2 of 2" in out  # the summary table


def test_killed_mid_generation_resumes_to_the_same_archive(workspace, uninterrupted):
    run_a, _ = uninterrupted
    run_b = workspace["root"] / "run-b"
    cmd = [sys.executable, "-m", "flows.cli", "run", "--config", str(workspace["config"]), "--run-dir", str(run_b)]
    log = workspace["root"] / "run-b.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, env=workspace["env"], stdout=fh, stderr=subprocess.STDOUT,
                                cwd=Path(__file__).parent.parent, start_new_session=True)
        deadline = time.time() + 600
        while "[gen 2/2] make + screen + evaluate child 1/2" not in log.read_text():
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.time() < deadline, "run never reached generation 2"
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGKILL)  # the run and its temporary Prefect server
        proc.wait()
    # the interrupted generation left nothing visible
    assert table(run_b, "SELECT max(generation) FROM generations")[0][0] == 1
    assert table(run_b, "SELECT count(*) FROM models WHERE created_generation = 2")[0][0] == 0
    assert list((run_b / "work").glob("child-*"))  # but the finished child's folder is staged

    res = acdc(["run", "--run-dir", str(run_b)], workspace["env"])
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    out = res.stdout + res.stderr
    assert "Cached" in out  # the finished child came from Prefect's result cache
    assert "remade from its recipe" not in out  # ... and its weights from its staged folder
    assert not [f.name for f in (run_b / "work").iterdir() if f.name.startswith(("child-", "tmp-"))]

    same = "SELECT generation, model_id, rank, fitness FROM archive ORDER BY generation, rank"
    assert table(run_b, same) == table(run_a, same)
    ids = "SELECT model_id, operator, parents FROM models ORDER BY model_id"
    assert table(run_b, ids) == table(run_a, ids)
    for name, key in TABLE_KEYS.items():
        total = table(run_b, f"SELECT count(*) FROM {name}")[0][0]
        distinct = table(run_b, f"SELECT count(*) FROM (SELECT DISTINCT {key} FROM {name})")[0][0]
        assert total == distinct == table(run_a, f"SELECT count(*) FROM {name}")[0][0], name


def test_resident_models_change_nothing_but_the_loads(workspace, tmp_path):
    """The same run with every model reloaded for every step (``resident_gb: 0``) computes the
    same rows; with the pool, each seed and archive model is loaded once in the whole run,
    through two task adaptations of up to three scientist rounds each."""
    cfg = yaml.safe_load(workspace["config"].read_text())
    cfg["adaptation"] = {"every": 1, "parents": 4, "reflection_rounds": 2}
    runs = {}
    for name, gb in (("resident", 6.0), ("reload", 0.0)):
        cfg["evaluation"]["resident_gb"] = gb
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(cfg))
        runs[name] = tmp_path / name
        res = acdc(["run", "--config", str(tmp_path / f"{name}.yaml"), "--run-dir", str(runs[name])], workspace["env"])
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    for sql in ("SELECT generation, model_id, rank, fitness, competition_score FROM archive ORDER BY 1, 2",
                "SELECT model_id, task_id, instance_id, response, score, generation FROM evaluations ORDER BY 1, 2, 3",
                "SELECT generation, request_id, round, status, task_id FROM task_proposals ORDER BY 1, 2, 3",
                "SELECT task_id, active FROM task_families ORDER BY 1"):
        assert table(runs["reload"], sql) == table(runs["resident"], sql)

    def counts(run_dir: Path) -> tuple[int, int]:
        m = table(run_dir, "SELECT name, sum(value) FROM metrics WHERE name LIKE 'archive_model_%' GROUP BY 1")
        return int(dict(m)["archive_model_loads"]), int(dict(m)["archive_model_reuses"])

    (loads_r, reuses_r), (loads_a, reuses_a) = counts(runs["reload"]), counts(runs["resident"])
    assert reuses_r == 0 and loads_a + reuses_a == loads_r  # the same sessions, fewer loads
    # asked through the pool: the seeds (generation 0) and the archive each adaptation (1, 2) consulted
    asked = table(runs["resident"], """SELECT count(*) FROM (SELECT model_id FROM archive WHERE generation >= 1
                                       UNION SELECT model_id FROM models WHERE operator = 'seed')""")[0][0]
    assert loads_a == asked  # each loaded once in the whole run
    assert loads_r > loads_a  # the premise: models answered more than once (rounds, adaptations)
    # the seed answered every task the adaptations admitted, also after it left the archive
    run = runs["resident"]
    seed = table(run, "SELECT model_id FROM models WHERE operator = 'seed'")[0][0]
    outside = table(run, f"""SELECT count(*) FROM task_families f WHERE f.created_generation > 0 AND NOT EXISTS
        (SELECT 1 FROM archive a WHERE a.generation = f.created_generation AND a.model_id = '{seed}')""")[0][0]
    assert outside, "no task was admitted while the seed was outside the archive; the test's premise failed"
    assert table(run, f"SELECT count(*) FROM evaluations WHERE model_id = '{seed}'")[0][0] == \
        table(run, "SELECT count(*) FROM task_instances")[0][0]


def test_rerun_more_generations_status_and_fresh(workspace, tmp_path):
    run_dir = tmp_path / "run-c"
    cfg = yaml.safe_load(workspace["config"].read_text())
    cfg["run"]["generations"] = 0
    path = tmp_path / "g0.yaml"
    path.write_text(yaml.safe_dump(cfg))
    env = workspace["env"]
    assert acdc(["run", "--config", str(path), "--run-dir", str(run_dir)], env).returncode == 0
    # the compute dtype is frozen when the run starts ("auto" resolved for this machine) ...
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["evaluation"]["dtype"] == \
        resolve_dtype("auto", "cpu")
    res = acdc(["run", "--run-dir", str(run_dir)], env)
    assert res.returncode == 0 and "nothing to do" in res.stdout + res.stderr
    # ... so resuming with the same config file ("auto" again) is the same run, and keeps it frozen
    res = acdc(["run", "--config", str(path), "--run-dir", str(run_dir)], env)
    assert res.returncode == 0, res.stderr[-2000:]
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["evaluation"]["dtype"] != "auto"
    res = acdc(["run", "--run-dir", str(run_dir), "--generations", "1"], env)
    assert res.returncode == 0, res.stderr[-2000:]
    assert table(run_dir, "SELECT max(generation) FROM generations")[0][0] == 1
    status = acdc(["status", "--run-dir", str(run_dir)], env)
    assert status.returncode == 0 and "1 of 1" in status.stdout and "best_fitness" in status.stdout
    # a different config for an existing run is refused, naming the key
    cfg["population"]["archive_size"] = 5
    path.write_text(yaml.safe_dump(cfg))
    res = acdc(["run", "--config", str(path), "--run-dir", str(run_dir)], env)
    assert res.returncode == 2 and "population.archive_size" in res.stderr
    res = acdc(["run", "--config", str(path), "--run-dir", str(run_dir), "--fresh"], env)
    assert res.returncode == 0
    assert table(run_dir, "SELECT max(generation) FROM generations")[0][0] == 0


def test_bad_config_fails_before_any_work(tmp_path, workspace):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"crossover": {"method": "slerp", "parents": 3}}))
    res = acdc(["run", "--config", str(bad), "--run-dir", str(tmp_path / "r")], workspace["env"])
    assert res.returncode == 2
    assert "crossover.parents=3" in res.stderr
    assert not (tmp_path / "r").exists()


def test_validate_says_how_task_code_is_contained(workspace):
    res = acdc(["validate", "--config", str(workspace["config"])], workspace["env"])
    assert res.returncode == 0, res.stderr
    line = next(x for x in res.stdout.splitlines() if x.startswith("sandbox: "))
    assert ("namespaces" in line) if shutil.which("unshare") else ("REFUSED" in line)


def test_corrupt_seed_checkpoint_is_named(tmp_path, workspace, pico_family):
    broken = tmp_path / "broken"
    shutil.copytree(pico_family["base"], broken)
    (broken / "model.safetensors").write_bytes(b"\x00\x01 not safetensors")
    cfg = pico_config(broken, generations=0)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    run_dir = tmp_path / "r"
    res = acdc(["run", "--config", str(path), "--run-dir", str(run_dir)], workspace["env"])
    assert res.returncode == 2
    assert "not a readable safetensors file" in res.stderr and "broken" in res.stderr
    # nothing half-written: no generation, no model row
    assert table(run_dir, "SELECT count(*) FROM generations")[0][0] == 0
    assert table(run_dir, "SELECT count(*) FROM models")[0][0] == 0


def expert_config(seed_path: Path, lr: float = 5e-3) -> dict:
    cfg = pico_config(seed_path, generations=1)
    cfg["models"]["initial_mutants"] = 1
    cfg["models"]["experts"] = [
        {"name": "m", "skill": "math", "examples": 24, "steps": 3, "batch_size": 4, "lora_rank": 4, "lr": lr},
        {"name": "c", "skill": "code", "examples": 24, "steps": 3, "batch_size": 4, "lora_rank": 4, "lr": lr},
    ]
    return cfg


def test_seeds_build_registers_reuses_and_seeds_the_run(tmp_path, pico_family):
    env = acdc_env(tmp_path)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(expert_config(pico_family["base"])))
    run_a, run_b = tmp_path / "a", tmp_path / "b"
    res = acdc(["seeds", "build", "--config", str(path), "--run-dir", str(run_a)], env)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "seed experts" in res.stdout and "final loss" in res.stdout
    assert "expert m: step 3/3" in res.stdout + res.stderr  # the progress line
    # the base answered both experts' replay prompts in one session
    assert (res.stdout + res.stderr).count("replay prompts for the experts") == 1
    experts = table(run_a, "SELECT name, skill, base_model_id, uri, recipe, loss_curve FROM seed_experts ORDER BY name")
    assert [(e[0], e[1]) for e in experts] == [("c", "code"), ("m", "math")]
    for name, skill, base_id, uri, recipe, curve in experts:
        rec = json.loads(recipe)
        assert rec["data"]["generator"] == f"acdc_core.expert_data:{skill}"
        assert rec["data"]["excluded_instructions"] == 12  # the run's 6 families x 2 instances
        assert rec["train"]["lr"] == 5e-3 and rec["train"]["steps"] == 3 and rec["method"] == "lora-merged"
        assert len(curve) == 3 and all(np.isfinite(curve))
        assert (Path(uri.removeprefix("file://")) / "_COMPLETE").exists()
    built = {p.name: p.stat().st_mtime for p in (tmp_path / "cache" / "experts").iterdir()}
    assert len(built) == 2

    # another run on the same machine reuses the builds: same weights, no training
    res = acdc(["seeds", "build", "--config", str(path), "--run-dir", str(run_b)], env)
    assert res.returncode == 0, res.stderr[-3000:]
    assert (res.stdout + res.stderr).count("reusing the build") == 2
    assert "step 3/3" not in res.stdout + res.stderr and "replay prompts" not in res.stdout + res.stderr
    assert {p.name: p.stat().st_mtime for p in (tmp_path / "cache" / "experts").iterdir()} == built
    assert table(run_b, "SELECT model_id FROM seed_experts ORDER BY name") == [(e[0],) for e in
                                                                              table(run_a, "SELECT model_id FROM seed_experts ORDER BY name")]

    # the run starts from them: generation 0 evaluates the experts as seeds, the base stays the base
    res = acdc(["run", "--run-dir", str(run_a)], env)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    seeds = table(run_a, "SELECT recipe->>'name', CAST(recipe->>'is_base' AS BOOLEAN) FROM models WHERE operator = 'seed' ORDER BY 1")
    assert seeds == [("c", False), ("m", False), ("pico", True)]
    evaluated = table(run_a, "SELECT count(DISTINCT model_id) FROM evaluations e JOIN seed_experts s USING (model_id)")
    assert evaluated == [(2,)]


def test_diverging_expert_is_named_and_registers_nothing(tmp_path, pico_family):
    env = acdc_env(tmp_path)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(expert_config(pico_family["base"], lr=1e30)))
    res = acdc(["run", "--config", str(path), "--run-dir", str(tmp_path / "r")], env)
    assert res.returncode == 2
    assert "training diverged" in res.stderr and "lower the expert's lr" in res.stderr
    assert table(tmp_path / "r", "SELECT count(*) FROM seed_experts") == [(0,)]
    assert table(tmp_path / "r", "SELECT count(*) FROM generations") == [(0,)]
    assert not list((tmp_path / "cache").glob("experts/*"))


def test_seeds_with_another_tokenizer_are_refused(tmp_path, pico_family):
    from helpers.pico import build_pico, build_tokenizer

    other = build_pico(tmp_path / "other", 5, build_tokenizer(tmp_path / "tok", vocab_size=300))
    cfg = pico_config(pico_family["base"], generations=0)
    cfg["models"]["seeds"].append({"path": str(other), "name": "stranger"})
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    res = acdc(["seeds", "build", "--config", str(path), "--run-dir", str(tmp_path / "r")], acdc_env(tmp_path))
    assert res.returncode == 2
    assert "tokenizer of stranger differs from pico's" in res.stderr
    assert table(tmp_path / "r", "SELECT count(*) FROM models") == [(0,)]


def test_dask_cluster_with_models_on_s3_gives_the_same_run(workspace, uninterrupted, s3_server):
    """runner.kind dask (a local cluster of 2 worker processes on loopback) with the blob store on
    a real S3 server: the same archive and answers as the one-process run on local disk; the
    workers made and evaluated the children, each once; the models live in
    the bucket; and the secret key, given only in the environment, is nowhere in the run folder."""
    run_dir = workspace["root"] / "run-dask-s3"
    cfg = yaml.safe_load(workspace["config"].read_text())
    cfg["runner"] = {"kind": "dask", "workers": 2}
    cfg["storage"] = {"blob_url": f"s3://{s3_server['bucket']}/run-dask"}
    config = workspace["root"] / "dask-s3.yaml"
    config.write_text(yaml.safe_dump(cfg))
    res = acdc(["run", "--config", str(config), "--run-dir", str(run_dir)], {**workspace["env"], **s3_server["env"]})
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-4000:]
    for sql in ("SELECT generation, model_id, rank, competition_score FROM archive ORDER BY ALL",
                "SELECT model_id, task_id, instance_id, response, score FROM evaluations ORDER BY ALL",
                "SELECT model_id, operator, archive_status FROM models ORDER BY ALL"):
        assert table(run_dir, sql) == table(uninterrupted[0], sql), sql
    assert "remade from its recipe" not in out  # each child made once, where it was evaluated
    assert "[gen 2/2] make + screen + evaluate child 2/2" in out
    uris = [u for (u,) in table(run_dir, "SELECT uri FROM models WHERE uri IS NOT NULL")]
    assert uris and all(u.startswith(f"s3://{s3_server['bucket']}/run-dask/models/") for u in uris)
    assert not (run_dir / "blobs").exists()
    secret = s3_server["env"]["AWS_SECRET_ACCESS_KEY"].encode()
    assert not [f for f in run_dir.rglob("*") if f.is_file() and secret in f.read_bytes()]
