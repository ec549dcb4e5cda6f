"""DuckDB repository and blob store: versioned schema, atomic idempotent commits, fsspec URLs."""

import duckdb
import fsspec
import pytest

from storage import queries
from storage.blobs import BlobStore
from storage.db import GenerationCommit, RunDB
from storage.schema import SCHEMA_VERSION, migrations


def model_row(mid: str) -> dict:
    return dict(model_id=mid, uri=f"file:///{mid}", parents=["p"], operator="linear", recipe="{}",
                merge_config_yaml=None, seed=1, created_generation=0, is_gibberish=False, gibberish_reason=None)


def commit(gen: int, mids: list[str], **extra) -> GenerationCommit:
    return GenerationCommit(
        generation=gen, n_candidates=len(mids), n_gibberish=0, n_admitted=len(mids), seconds=1.0,
        models=[model_row(m) for m in mids],
        archive=[dict(generation=gen, model_id=m, rank=i, fitness=0.5, competition_score=1.0) for i, m in enumerate(mids)],
        **extra,
    )


def test_schema_is_versioned_and_migration_is_idempotent(tmp_path):
    with pytest.raises(FileNotFoundError, match="no run database"):
        RunDB(tmp_path / "r.duckdb")  # opening never creates a file
    assert not (tmp_path / "r.duckdb").exists()
    RunDB.create(tmp_path / "r.duckdb")
    RunDB.create(tmp_path / "r.duckdb")
    con = duckdb.connect(str(tmp_path / "r.duckdb"))
    versions = con.execute("SELECT version FROM schema_version ORDER BY 1").fetchall()
    assert versions == [(v,) for v in range(1, SCHEMA_VERSION + 1)]  # each migration applied once
    assert con.execute("SELECT count(*) FROM seed_experts").fetchall() == [(0,)]
    con.close()


def test_opening_a_run_database_migrates_nothing(tmp_path):
    path = tmp_path / "r.duckdb"
    with duckdb.connect(str(path)) as con:  # as a run of the version before the last migration left it
        con.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP)")
        for version, ddl in migrations()[:-1]:
            con.execute(ddl)
            con.execute("INSERT INTO schema_version VALUES (?, now())", [version])
    RunDB(path).read(queries.count_rows, "models")
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT max(version) FROM schema_version").fetchall() == [(SCHEMA_VERSION - 1,)]
    RunDB.create(path)  # the writer brings it up to date
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT max(version) FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]


def test_commit_is_idempotent(tmp_path):
    db = RunDB.create(tmp_path / "r.duckdb")
    assert db.commit_generation(commit(0, ["a", "b"]))
    assert not db.commit_generation(commit(0, ["a", "b"]))
    assert db.read(queries.count_rows, "models") == 2 and db.read(queries.archive_ids, 0) == ["a", "b"]
    assert db.read(queries.last_generation) == 0
    # a model seen again in a later generation is not duplicated
    assert db.commit_generation(commit(1, ["b", "c"]))
    assert db.read(queries.count_rows, "models") == 3 and db.read(queries.count_rows, "archive") == 4


def test_failed_commit_leaves_nothing_visible(tmp_path):
    db = RunDB.create(tmp_path / "r.duckdb")
    bad = commit(0, ["a"], metrics=[dict(generation=0, name="x", value=None)])  # NOT NULL violated
    with pytest.raises(duckdb.Error):
        db.commit_generation(bad)
    assert db.read(queries.last_generation) is None
    assert db.read(queries.count_rows, "models") == 0 and db.read(queries.count_rows, "archive") == 0
    assert db.commit_generation(commit(0, ["a"]))


def test_local_blob_store_marks_complete_folders(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "config.json").write_text("{}")
    store = BlobStore(str(tmp_path / "blobs"), tmp_path / "cache")
    assert not store.exists("models/x")
    with pytest.raises(FileNotFoundError):
        store.local_dir("models/x")
    uri = store.put_dir(src, "models/x", move=True)
    assert uri.startswith("file://") and not src.exists()
    assert store.exists("models/x") and (store.local_dir("models/x") / "config.json").read_text() == "{}"
    (store.local_dir("models/x") / "_COMPLETE").unlink()  # an interrupted upload
    assert not store.exists("models/x")


def test_remote_blob_store_downloads_into_cache(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "model.safetensors").write_bytes(b"weights")
    store = BlobStore("memory://acdc-test-blobs", tmp_path / "cache")
    try:
        uri = store.put_dir(src, "models/y")
        assert uri.startswith("memory://") and uri.endswith("acdc-test-blobs/models/y")
        local = store.local_dir("models/y")
        assert local.parent.parent == tmp_path / "cache"
        assert (local / "model.safetensors").read_bytes() == b"weights"
    finally:
        fsspec.filesystem("memory").rm("/acdc-test-blobs", recursive=True)


def test_writer_waits_for_a_readers_lock(tmp_path):
    import subprocess
    import sys

    db = RunDB.create(tmp_path / "r.duckdb")
    hold = "import duckdb, time; c = duckdb.connect(%r, read_only=True); print('open', flush=True); time.sleep(2)"
    reader = subprocess.Popen([sys.executable, "-c", hold % str(db.path)], stdout=subprocess.PIPE, text=True)
    assert reader.stdout.readline().strip() == "open"
    assert db.commit_generation(commit(0, ["a"]))  # waited for the reader to let go
    reader.wait()
    assert db.read(queries.last_generation) == 0
    impatient = RunDB(tmp_path / "r.duckdb", lock_timeout_s=0.5)
    reader = subprocess.Popen([sys.executable, "-c", hold % str(db.path)], stdout=subprocess.PIPE, text=True)
    assert reader.stdout.readline().strip() == "open"
    with pytest.raises(duckdb.IOException, match="lock"):
        impatient.commit_generation(commit(1, ["b"]))
    reader.wait()


def test_readers_wait_for_a_writers_lock(tmp_path):
    import subprocess
    import sys

    from storage.queries import open_run, run_headline

    db = RunDB.create(tmp_path / "acdc.duckdb")
    assert db.commit_generation(commit(0, ["a", "b"]))
    hold = "import duckdb, time; c = duckdb.connect(%r); print('open', flush=True); time.sleep(2)"
    writer = subprocess.Popen([sys.executable, "-c", hold % str(db.path)], stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "open"
    with open_run(tmp_path) as con:  # waited for the writer to let go
        assert run_headline(con)["archive_size"] == 2
    writer.wait()


def test_strings_no_database_can_store_are_cleaned_at_the_insert(tmp_path):
    """Lone surrogates (from a family's instructions, a model, a judge) and NUL characters made
    commits fail with UnicodeEncodeError, and so wedged the run on every resume: every string is
    cleaned at the one insert choke point."""
    db = RunDB.create(tmp_path / "r.duckdb")
    dirty = "bad \udcff and \x00 here"
    family = dict(task_id="t", name=dirty, code="x = 1", description=dirty, capability="c", domain="d",
                  parent_id=None, origin="scientist", created_generation=0, active=True)
    instance = dict(task_id="t", instance_id=dirty, task='{"a": 1}', instructions=chr(0xdcff))
    evaluation = dict(model_id="a", task_id="t", instance_id=dirty, score=0.0, response=dirty, submission=dirty,
                      error=dirty, tokens=1, seconds=0.1, generation=0)
    assert db.commit_generation(commit(0, ["a"], task_families=[family], task_instances=[instance],
                                       evaluations=[evaluation]))
    db.insert_rows("evaluations", [{**evaluation, "model_id": "b", "source": "run"}])
    with duckdb.connect(str(tmp_path / "r.duckdb"), read_only=True) as con:
        assert con.execute("SELECT name FROM task_families").fetchall() == [("bad \ufffd and \ufffd here",)]
        assert con.execute("SELECT instructions FROM task_instances").fetchall() == [("\ufffd",)]
        assert con.execute("SELECT count(*) FROM evaluations WHERE response = ?",
                           ["bad \ufffd and \ufffd here"]).fetchall() == [(2,)]


def family_rows(tid: str, task: str = '{"a": 1}', gen: int = 0) -> dict:
    """A task family's rows of one generation: the family, one instance, the answer of model a."""
    return dict(
        task_families=[dict(task_id=tid, name=tid, code="x = 1", description="d", capability="c", domain="d",
                            parent_id=None, origin="seed", created_generation=gen, active=True)],
        task_instances=[dict(task_id=tid, instance_id="1", task=task, instructions="say hi")],
        evaluations=[dict(model_id="a", task_id=tid, instance_id="1", score=1.0, response="hi", submission="hi",
                          error=None, tokens=1, seconds=0.1, generation=gen)],
        task_embeddings=[dict(task_id=tid, embedder="e", text=tid, embedding=[0.1, 0.2], created_generation=gen)],
    )


def merged(*parts: dict) -> dict:
    out: dict = {}
    for p in parts:
        for k, v in p.items():
            out[k] = out.get(k, []) + v
    return out


def refuse(monkeypatch, table: str, task_id: str) -> None:
    """Make the insert into ``table`` fail whenever its rows hold ``task_id``, as DuckDB does on
    a value it cannot store."""
    import storage.db as db_module

    real = db_module._insert

    def insert(con, name, columns, rows, verb):
        if name == table and any(r.get("task_id") == task_id for r in rows):
            raise duckdb.ConversionException(f"Conversion Error: cannot store a value of {task_id}")
        real(con, name, columns, rows, verb)

    monkeypatch.setattr(db_module, "_insert", insert)


def test_a_family_whose_rows_the_database_refuses_is_retired_and_the_generation_commits(tmp_path):
    """A value no cleaning makes storable (here a JSON column given malformed JSON) failed the
    generation's one transaction, and again on every resume: the run was wedged."""
    db = RunDB.create(tmp_path / "r.duckdb")
    gen0 = commit(0, ["a"], **merged(family_rows("good"), family_rows("bad", task="{not json")),
                  metrics=[dict(generation=0, name="archive_size", value=1.0)])
    assert db.commit_generation(gen0)
    assert db.read(queries.last_generation) == 0 and db.read(queries.archive_ids, 0) == ["a"]
    assert [f["task_id"] for f in db.read(queries.active_tasks)] == ["good"]
    retired = db.read(queries.retired_tasks)
    assert [(f["task_id"], f["instances"]) for f in retired] == [("bad", {})]  # kept, inactive, no rows
    with duckdb.connect(str(tmp_path / "r.duckdb"), read_only=True) as con:
        events = con.execute("SELECT generation, task_id, event, detail FROM task_events").fetchall()
        assert [e[:3] for e in events] == [(0, "bad", "retired_unstorable")]
        assert "ConversionException" in events[0][3] and "Malformed JSON" in events[0][3]
        for table in ("task_instances", "evaluations", "task_embeddings"):
            assert con.execute(f"SELECT DISTINCT task_id FROM {table}").fetchall() == [("good",)], table
        assert dict(con.execute("SELECT name, value FROM metrics").fetchall()) == {
            "archive_size": 1.0, "tasks_retired_unstorable": 1.0}
    assert not db.commit_generation(gen0)  # still idempotent
    assert db.commit_generation(commit(1, ["a"], **family_rows("good", gen=1)))  # and the run goes on
    assert db.read(queries.last_generation) == 1


def test_a_stored_family_whose_new_rows_are_refused_leaves_the_pool(tmp_path, monkeypatch):
    db = RunDB.create(tmp_path / "r.duckdb")
    assert db.commit_generation(commit(0, ["a"], **merged(family_rows("good"), family_rows("bad"))))
    refuse(monkeypatch, "evaluations", "bad")
    rows = merged(family_rows("good", gen=1), family_rows("bad", gen=1))
    answers_of_b = [{**r, "model_id": "b"} for r in rows["evaluations"]]
    assert db.commit_generation(commit(1, ["a", "b"], evaluations=answers_of_b))
    assert [f["task_id"] for f in db.read(queries.active_tasks)] == ["good"]
    assert db.read(queries.archive_ids, 1) == ["a", "b"]
    assert db.read(queries.task_events, "retired_unstorable") == [(1, "bad")]
    with duckdb.connect(str(tmp_path / "r.duckdb"), read_only=True) as con:
        assert con.execute("SELECT model_id, task_id FROM evaluations ORDER BY ALL").fetchall() == [
            ("a", "bad"), ("a", "good"), ("b", "good")]


def test_a_family_whose_own_row_is_refused_is_retired_by_its_event_alone(tmp_path, monkeypatch):
    db = RunDB.create(tmp_path / "r.duckdb")
    refuse(monkeypatch, "task_families", "bad")
    assert db.commit_generation(commit(0, ["a"], **merged(family_rows("good"), family_rows("bad"))))
    assert [f["task_id"] for f in db.read(queries.task_families)] == ["good"]
    assert db.read(queries.task_events, "retired_unstorable") == [(0, "bad")]


def test_rows_refused_for_every_family_are_a_fault_of_the_run_not_retired(tmp_path, monkeypatch):
    """A refusal no single family explains (here every family's evaluations) retires nothing:
    the error is raised and nothing is visible."""
    db = RunDB.create(tmp_path / "r.duckdb")
    import storage.db as db_module

    real = db_module._insert
    monkeypatch.setattr(db_module, "_insert", lambda con, name, *a: (_ for _ in ()).throw(
        duckdb.ConversionException("refused")) if name == "evaluations" else real(con, name, *a))
    with pytest.raises(duckdb.ConversionException):
        db.commit_generation(commit(0, ["a"], **merged(family_rows("good"), family_rows("bad"))))
    assert db.read(queries.last_generation) is None
    assert db.read(queries.count_rows, "task_families") == 0 and db.read(queries.count_rows, "task_events") == 0


def test_the_commit_measures_history_coverage_as_the_report_does(tmp_path):
    """coverage_history(_seeds) and history_beyond_seeds come from the commit's own SQL
    (storage.queries.history_coverage), the same definition the report's global coverage uses."""
    from storage.queries import global_coverage_frame, history_coverage

    db = RunDB.create(tmp_path / "r.duckdb")
    fam = [dict(task_id=t, name=t, code="c", description="d", capability="c", domain="x", parent_id=None,
                origin="seed", created_generation=g, active=True) for t, g in (("t1", 0), ("t2", 1))]
    inst = [dict(task_id=t, instance_id=i, task="{}", instructions="q") for t in ("t1", "t2") for i in ("0", "1")]
    seed = {**model_row("s"), "operator": "seed"}

    def ev(m: str, t: str, i: str, score: float) -> dict:
        return dict(model_id=m, task_id=t, instance_id=i, generation=0, response="x", submission="x", score=score, tokens=1, seconds=0.1)

    gen0 = commit(0, ["s", "a"], task_families=fam[:1], task_instances=inst[:2], solved_threshold=0.5,
                  evaluations=[ev("s", "t1", "0", 1.0), ev("a", "t1", "0", 1.0), ev("a", "t1", "1", 0.9)])
    gen0.models[0] = seed
    assert db.commit_generation(gen0)
    # generation 1 admits t2; "a" solves one of its instances, the seed none (a 0.4 is unsolved)
    gen1 = commit(1, ["a"], task_families=fam[1:], task_instances=inst[2:], solved_threshold=0.5,
                  evaluations=[ev("a", "t2", "0", 1.0), ev("s", "t2", "0", 0.4)])
    gen1.models = []
    assert db.commit_generation(gen1)
    m0, m1 = db.read(queries.generation_metrics, 0), db.read(queries.generation_metrics, 1)
    assert (m0["coverage_history"], m0["coverage_history_seeds"], m0["history_beyond_seeds"]) == (1.0, 0.5, 1.0)
    assert (m1["coverage_history"], m1["coverage_history_seeds"], m1["history_beyond_seeds"]) == (0.75, 0.25, 2.0)
    with db.connect() as con:
        frame = global_coverage_frame(con, 0.5)
        assert frame["coverage"].tolist() == [m0["coverage_history"], m1["coverage_history"]]
        cov = history_coverage(con, ["s"], 0.5, generation=0)
        assert (cov.n_instances, cov.n_evaluated, cov.solved, cov.retired) == (2, 1, {"t1/0"}, frozenset())
    assert "coverage_history" not in db.read(queries.generation_metrics, 2)  # nothing for an uncommitted generation


def test_children_answer_a_stable_sample_of_the_retired_history_and_its_coverage_is_estimated(tmp_path):
    """With ``retired_sample`` k, the retired instances children are asked are the first k draws of
    the run seed; a later, bigger retired part keeps every earlier draw that is still among its
    first k (so every archive model has answered its generation's sample); the history coverage
    is exact outside the retired part and estimated on the sample inside it, with an interval that
    closes when the sample is the whole retired part."""
    from storage.queries import global_coverage_frame, history_coverage

    db = RunDB.create(tmp_path / "r.duckdb")
    tids = [f"t{k}" for k in range(6)]
    fam = [dict(task_id=t, name=t, code="c", description="d", capability="c", domain="x", parent_id=None,
                origin="seed", created_generation=0, active=True) for t in tids]
    inst = [dict(task_id=t, instance_id=str(i), task="{}", instructions="q") for t in tids for i in range(4)]

    def ev(m: str, t: str, i: str, score: float) -> dict:
        return dict(model_id=m, task_id=t, instance_id=i, generation=0, response="x", submission="x", score=score,
                    tokens=1, seconds=0.1)

    # generation 0: seed "s" and archive model "a" answer all 24 instances; "a" solves those of t0-t2
    gen0 = commit(0, ["s", "a"], task_families=fam, task_instances=inst, solved_threshold=0.5, retired_sample=5,
                  seed=7, evaluations=[ev(m, r["task_id"], r["instance_id"], float(m == "a" and r["task_id"] < "t3"))
                                       for m in ("s", "a") for r in inst])
    gen0.models[0] = {**model_row("s"), "operator": "seed"}
    assert db.commit_generation(gen0)
    assert db.read(queries.retired_tasks, 5, 7) == []
    # generation 1 retires t0-t3 (16 instances); child "c" joins "a", answering t4, t5 and the sample
    # of the retired part as it stands when the child is admitted (before the commit: t0-t3 retired)
    with db.connect() as con:
        con.execute("UPDATE task_families SET active = false WHERE task_id < 't4'")
        retired1 = queries.retired_tasks(con, 5, 7)
        assert queries.retired_tasks(con, 5, 8) != retired1  # another seed, another draw
        assert sum(len(f["instances"]) for f in queries.retired_tasks(con)) == 16  # unsampled: all
        con.execute("UPDATE task_families SET active = true")
    assert sum(len(f["instances"]) for f in retired1) == 5 and {f["task_id"] for f in retired1} <= set(tids[:4])
    sample1 = {f"{f['task_id']}/{i}" for f in retired1 for i in f["instances"]}
    gen1 = commit(1, ["a", "c"], deactivate=tids[:4], solved_threshold=0.5, retired_sample=5, seed=7,
                  evaluations=[ev("c", f["task_id"], i, 1.0) for f in retired1 for i in f["instances"]]
                  + [ev("c", t, str(i), 1.0) for t in tids[4:] for i in range(4)])
    gen1.models = [model_row("c")]
    assert db.commit_generation(gen1)
    with db.connect() as con:
        cov = history_coverage(con, ["a", "c"], 0.5, None, 5, 7)
        truth = history_coverage(con, ["a", "c"], 0.5, None, None, 7)
    assert (len(cov.retired), cov.sampled, truth.sampled) == (16, sample1, truth.retired)
    # known solved: t4, t5 by "c" (8), t0-t2 by "a" (12) and c's sample: the exact count leaves
    # c's unasked instances of t3 unsolved, the estimate scales the sample (all solved) to t0-t3
    known = 8 + len({k for k in truth.retired if k < "t3"} | sample1)
    assert truth.estimate() == (known,) * 3 and len(truth.solved) == known
    m1 = db.read(queries.generation_metrics, 1)
    assert m1["coverage_history"] == pytest.approx((8 + 16) / 24)
    assert (8 + 5) / 24 <= m1["coverage_history_lo"] < m1["coverage_history"] == m1["coverage_history_hi"]
    assert (m1["history_retired"], m1["history_sampled"], m1["coverage_history_seeds"]) == (16.0, 5.0, 0.0)
    # generation 2 retires t4 too: its sample keeps every draw of generation 1 still among the first 5
    gen2 = commit(2, ["a", "c"], deactivate=["t4"], solved_threshold=0.5, retired_sample=5, seed=7)
    gen2.models = []
    assert db.commit_generation(gen2)
    with db.connect() as con:
        cov2 = history_coverage(con, ["a", "c"], 0.5, None, 5, 7)
        assert len(cov2.sampled) == 5 and cov2.sampled & cov.retired <= sample1
        frame = global_coverage_frame(con, 0.5, 5, 7)
        whole = history_coverage(con, ["a", "c"], 0.5, None, 20, 7)  # a sample of all 20 retired is exact
        retired_at = dict(con.execute("SELECT task_id, retired_generation FROM task_families").fetchall())
    assert frame["coverage_lo"][0] == frame["coverage"][0] == frame["coverage_hi"][0] == 12 / 24
    assert frame["coverage"][1] == pytest.approx(m1["coverage_history"])
    assert ((frame["coverage_lo"] <= frame["coverage"]) & (frame["coverage"] <= frame["coverage_hi"])).all()
    assert whole.sampled == whole.retired and whole.estimate() == (len(whole.solved),) * 3
    assert retired_at == {"t0": 1, "t1": 1, "t2": 1, "t3": 1, "t4": 2, "t5": None}
