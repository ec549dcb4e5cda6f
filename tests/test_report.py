"""``acdc report`` and ``notebooks/analysis.ipynb`` on a real 2-generation pico run.

The run adapts its tasks after every generation (offline template scientist), so it has
embeddings, clusters, harder rewrites and retired tasks.  Edge cases (one generation, no
embeddings, an assessed run) are copies of its DuckDB file, edited.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import duckdb
import nbformat
import pytest
import yaml
from helpers.runs import acdc, acdc_env, pico_config

from report import figures
from report.page import coverage_rule, summary_frame, task_map_frame, write_report
from storage import queries

pytestmark = pytest.mark.slow
ROOT = Path(__file__).parent.parent
FIGURES = [slug for slug in figures.TITLES if slug not in ("assessment", "transfer")]  # tables, when run


@pytest.fixture(scope="module")
def pico_run(tmp_path_factory, pico_family) -> Path:
    root = tmp_path_factory.mktemp("report")
    cfg = pico_config(pico_family["base"], generations=2)
    cfg["adaptation"] = {"every": 1, "parents": 4, "reflection_rounds": 1, "pool_cap": 9}
    (root / "cfg.yaml").write_text(yaml.safe_dump(cfg))
    run_dir = root / "run"
    res = acdc(["run", "--config", str(root / "cfg.yaml"), "--run-dir", str(run_dir)], acdc_env(root))
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return run_dir


def copy_run(run_dir: Path, dest: Path) -> Path:
    dest.mkdir(parents=True)
    for f in run_dir.glob("acdc.duckdb*"):
        shutil.copy(f, dest / f.name)
    return dest


@pytest.fixture(scope="module")
def assessed_run(pico_run, tmp_path_factory) -> Path:
    """The pico run with made-up assessment rows at generations 1 and 2 (2 is the latest)."""
    run_dir = copy_run(pico_run, tmp_path_factory.mktemp("assessed") / "run")
    rows = []
    for gen in (1, 2):
        for bench in ("arc_easy", "gsm8k"):
            for i, name in enumerate(("task_force_greedy_3", "top_fitness_3", "random_3")):
                v = 0.2 * i + 0.1 * gen
                rows.append((gen, name, bench, "coverage", v, v - 0.05, v + 0.05, 0.01, 50))
                rows.append((gen, name, bench, "bon_oracle", v, v - 0.05, v + 0.05, None, 50))
                rows.append((gen, name, bench, "majority_vote", v / 2, None, None, None, 50))
    con = duckdb.connect(str(run_dir / "acdc.duckdb"))
    con.executemany("INSERT INTO assessment_results (generation, set_name, benchmark, metric, value, ci_low, "
                    "ci_high, p_value, n_items) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    con.close()
    return run_dir


def query(run_dir: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(run_dir / "acdc.duckdb"), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def test_cli_report_writes_a_self_contained_page(pico_run, tmp_path):
    out = tmp_path / "out"
    res = acdc(["report", "--run-dir", str(pico_run), "--out", str(out)], acdc_env(tmp_path))
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert res.stdout.strip().endswith(str(out / "report.html"))
    page = (out / "report.html").read_text()
    for slug in FIGURES:
        assert (out / f"{slug}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", slug
    assert not (out / "assessment.png").exists()
    links = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)""", page)
    assert len(links) == len(FIGURES) and all(link.startswith("data:image/png;base64,") for link in links)
    for title in figures.TITLES.values():
        assert title in page, title
    assert "not assessed yet" in page and f"acdc assess --run-dir {pico_run}" in page
    assert "not checked yet" in page and f"acdc transfer --run-dir {pico_run}" in page
    assert "coverage of the held-out instances" in page  # the summary, next to history coverage


def test_figure_data_matches_the_database(pico_run):
    with queries.open_run(pico_run) as con:
        admitted = queries.admitted_frame(con)
        coverage = queries.global_coverage_frame(con, **coverage_rule(con))
        fitness = queries.fitness_coverage_frame(con, **coverage_rule(con))
        nodes, edges = queries.lineage_nodes_frame(con), queries.lineage_edges_frame(con)
        summary = dict(summary_frame(con).itertuples(index=False))
        assert queries.assessment_coverage_frame(con).empty and queries.best_of_n_frame(con).empty
    assert list(admitted.itertuples(index=False, name=None)) == query(
        pico_run, "SELECT generation, n_candidates, n_gibberish, n_admitted FROM generations ORDER BY 1")
    assert coverage["generation"].tolist() == [0, 1, 2]
    assert coverage["coverage"].between(0, 1).all()
    for g in coverage["generation"]:  # the same share, counted another way
        solved, total = query(pico_run, """
            SELECT count(*) FILTER (WHERE EXISTS (
                       SELECT 1 FROM evaluations e JOIN archive a ON a.model_id = e.model_id AND a.generation = ?
                       WHERE e.task_id = i.task_id AND e.instance_id = i.instance_id AND e.score >= 0.5)),
                   count(*)
            FROM task_instances i JOIN task_families f USING (task_id) WHERE f.created_generation <= ?
        """, [int(g), int(g)])[0]
        row = coverage.set_index("generation").loc[g]
        assert (row.n_solved, row.n_instances) == (solved, total)
        assert row.coverage == pytest.approx(solved / total)
    best = dict(query(pico_run, "SELECT generation, value FROM metrics WHERE name = 'best_fitness'"))
    assert dict(zip(fitness["generation"], fitness["best_fitness"])) == pytest.approx(best)
    assert fitness["global_coverage"].tolist() == pytest.approx(coverage["coverage"].tolist())
    assert len(nodes) == query(pico_run, "SELECT count(*) FROM models")[0][0]
    assert len(edges) == query(pico_run, "SELECT count(*) FROM lineage")[0][0]
    final = {r[0] for r in query(pico_run, "SELECT model_id FROM archive WHERE generation = 2")}
    assert set(nodes.loc[nodes["in_final"], "model_id"]) == final
    assert summary["final best fitness"] == f"{best[2]:.3f}"
    assert summary["generations committed"] == "3 (0 to 2)"


def test_skill_heatmap_and_task_map_data(pico_run):
    with queries.open_run(pico_run) as con:
        skills = queries.skill_cluster_frame(con)
        tasks = task_map_frame(con)
    clusters = query(pico_run, "SELECT task_id, cluster FROM task_clusters WHERE generation = 2")
    final = query(pico_run, "SELECT model_id FROM archive WHERE generation = 2")
    assert len(skills) == len(final) * len({c for _, c in clusters})
    row = skills.sort_values("n_scored").iloc[-1]
    task_ids = [t for t, c in clusters if c == row["cluster"]]
    per_task = query(pico_run, "SELECT task_id, avg(score) FROM evaluations WHERE model_id = ? "
                               "AND list_contains(?, task_id) GROUP BY task_id", [row["model_id"], task_ids])
    assert row["score"] == pytest.approx(sum(s for _, s in per_task) / len(per_task))
    assert row["n_scored"] == len(per_task) and row["n_tasks"] == len(task_ids)
    assert len(tasks) == query(pico_run, "SELECT count(*) FROM task_embeddings")[0][0]
    assert tasks[["x", "y"]].notna().all().all()
    assert set(tasks["cluster"]) <= {c for _, c in clusters} | {-1}
    assert (~tasks["active"]).any() and (tasks["origin"] != "seed").any()  # retired and rewritten tasks


def test_one_generation_without_embeddings_is_reported_with_notes(pico_run, tmp_path):
    run_dir = copy_run(pico_run, tmp_path / "run")
    con = duckdb.connect(str(run_dir / "acdc.duckdb"))
    for sql in ("DELETE FROM task_embeddings", "DELETE FROM task_clusters",
                "DELETE FROM task_instances WHERE task_id IN "
                "(SELECT task_id FROM task_families WHERE created_generation > 0)",
                "DELETE FROM task_families WHERE created_generation > 0",
                "DELETE FROM models WHERE created_generation > 0"):
        con.execute(sql)
    for table in ("generations", "archive", "metrics", "lineage", "evaluations", "task_events", "task_proposals"):
        con.execute(f"DELETE FROM {table} WHERE generation > 0")
    con.close()
    page = write_report(run_dir, tmp_path / "out").read_text()
    assert "fewer than 3 task families have embeddings" in page and "no task clusters recorded" in page
    for slug in ("fitness_coverage", "vendi", "admitted", "lineage"):
        assert (tmp_path / "out" / f"{slug}.png").exists(), slug
    assert not (tmp_path / "out" / "task_map.png").exists()


def test_assessed_run_shows_the_latest_assessment(assessed_run, tmp_path):
    with queries.open_run(assessed_run) as con:
        cov = queries.assessment_coverage_frame(con)
        bon = queries.best_of_n_frame(con)
    assert set(cov["generation"]) == {2} and len(cov) == 6 and set(cov["benchmark"]) == {"arc_easy", "gsm8k"}
    assert set(bon["metric"]) == {"bon_oracle", "majority_vote"} and set(bon["generation"]) == {2}
    page = write_report(assessed_run, tmp_path / "out").read_text()
    assert (tmp_path / "out" / "assessment.png").exists()
    assert "not assessed yet" not in page and "Best-of-N" in page and "0.400 [0.350, 0.450]" in page


def test_transfer_results_show_as_a_table_of_the_latest_check(pico_run, tmp_path):
    run_dir = copy_run(pico_run, tmp_path / "run")
    con = duckdb.connect(str(run_dir / "acdc.duckdb"))
    for gen, value in ((1, 0.111), (2, 0.427)):
        con.execute("INSERT INTO transfer_results VALUES (?, 'task_force_8', 8, ['m'], ?, 0.5, 120, 150)", [gen, value])
    con.close()
    with queries.open_run(run_dir) as con:
        df = queries.transfer_frame(con)
    assert df[["set_name", "coverage_heldout"]].values.tolist() == [["task_force_8", 0.427]]
    page = write_report(run_dir, tmp_path / "out").read_text()
    assert "not checked yet" not in page and "task_force_8" in page and "0.427" in page and "0.111" not in page


def python3_kernel(tmp_path: Path, monkeypatch) -> str:
    """The ``python3`` kernel name, registering ipykernel's spec in a temporary prefix when this
    environment has none (a fresh venv)."""
    from jupyter_client.kernelspec import KernelSpecManager

    if "python3" not in KernelSpecManager().find_kernel_specs():
        from ipykernel.kernelspec import install

        install(prefix=str(tmp_path / "jupyter"))
        monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter" / "share" / "jupyter"))
    return "python3"


def run_notebook(run_dir: Path, tmp_path: Path, monkeypatch) -> dict[str, str]:
    """Execute the notebook against ``run_dir``; returns the text output of each tagged cell."""
    from nbclient import NotebookClient

    monkeypatch.setenv("ACDC_RUN_DIR", str(run_dir))
    monkeypatch.setenv("PYTHONPATH", str(ROOT), prepend=os.pathsep)  # the kernel imports report and storage
    nb = nbformat.read(ROOT / "notebooks" / "analysis.ipynb", as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")  # committed stripped
    NotebookClient(nb, timeout=300, kernel_name=python3_kernel(tmp_path, monkeypatch),
                   resources={"metadata": {"path": str(ROOT)}}).execute()
    texts = {}
    for cell in nb.cells:
        for tag in cell.metadata.get("tags", []):
            texts[tag] = "\n".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in cell.outputs)
    return texts


def test_notebook_runs_on_the_run(pico_run, tmp_path, monkeypatch):
    texts = run_notebook(pico_run, tmp_path, monkeypatch)
    best = query(pico_run, "SELECT model_id FROM archive WHERE generation = 2 ORDER BY fitness DESC, rank LIMIT 1")
    assert f"best model: {best[0][0]}" in texts["best-models"]
    assert best[0][0] in texts["lineage"]
    assert "not assessed yet" in texts["assessment"]
    # the archive against its seeds, per generation, as the run's own metrics have it
    rows = [line.split() for line in texts["beyond-seeds"].strip().splitlines()[1:]]
    assert [int(r[1]) for r in rows] == [0, 1, 2]
    for r in rows:
        m = dict(query(pico_run, f"SELECT name, value FROM metrics WHERE generation = {r[1]}"))
        assert float(r[3]) == pytest.approx(m["coverage_history"], abs=6e-4)
        assert float(r[4]) == pytest.approx(m["coverage_history_seeds"], abs=6e-4)
        assert int(r[5]) + int(r[6]) == m["history_beyond_seeds"]
    # the same for the held-out instances, recomputed from heldout_answers
    rows = [line.split() for line in texts["heldout"].strip().splitlines()[1:]]
    assert [int(r[1]) for r in rows] == [0, 1, 2]
    for r in rows:
        m = dict(query(pico_run, f"SELECT name, value FROM metrics WHERE generation = {r[1]}"))
        assert int(r[2]) == m["heldout_instances"] and int(r[5]) == m["heldout_beyond_seeds"]
        assert float(r[3]) == pytest.approx(m["coverage_heldout"], abs=6e-4)
        assert float(r[4]) == pytest.approx(m["coverage_heldout_seeds"], abs=6e-4)


def test_notebook_shows_an_assessment(assessed_run, tmp_path, monkeypatch):
    texts = run_notebook(assessed_run, tmp_path, monkeypatch)
    assert "task_force_greedy_3" in texts["assessment"] and "not assessed yet" not in texts["assessment"]
