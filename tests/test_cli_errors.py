"""Bad input from a user is a sentence on stderr (the file, what is wrong, what to do), a non-zero
exit and no traceback; and a command that only reads a run folder adds nothing to it."""

from importlib import resources

import pytest

from flows.cli import main
from storage.db import DB_FILE, RunDB


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
