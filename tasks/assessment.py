"""Steps of ``acdc assess``: benchmark items prepared, models answering them through lm-eval,
reference models resolved.  Rows go straight to the run's DuckDB (incrementally: an item a
model already answered is never asked again), so a crashed assessment resumes where it was."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict
from pathlib import Path

import duckdb
import numpy as np
from prefect import get_run_logger, task
from safetensors import safe_open

from acdc_core.adapters.backends.lm_eval_runner import BenchmarkRequest, LMEvalModel
from acdc_core.adapters.benchmark_files import benchmark, load_docs, subset, write_task
from acdc_core.adapters.code_tests import run_tests
from acdc_core.adapters.decontamination import BenchmarkNgrams
from acdc_core.adapters.weights import content_hash
from acdc_core.assessment.best_of_n import Candidate
from acdc_core.assessment.results import benchmark_results, holm_adjusted, pooled_results
from acdc_core.assessment.selection import choice_probabilities, choose_sets, sample_choices
from acdc_core.config import ConfigError, load_config
from acdc_core.hashing import stable_hash
from acdc_core.skills import skill_table, skill_vector
from acdc_core.steps import AssessedPool, BenchmarkItems, ReferenceModel
from acdc_core.taskfamily import TaskSet
from storage import queries
from storage.connection import DB_FILE
from tasks import sessions
from tasks.evaluation import evaluate_model
from tasks.policies import retry_unless_bad_input
from tasks.run_folder import CONFIG_FILE, RunContext
from tasks.shipped import shipped_seed_folder


@task(name="prepare-benchmarks", retries=0)
def prepare_benchmarks(run_dir: str) -> dict[str, BenchmarkItems]:
    """Write the local lm-eval task configs of the configured benchmarks (``source: local``).

    Returns {benchmark: its assessed items}.  With ``source: hub`` the items are lm-eval's first
    ``limit`` docs and their ids are those indices.

    Raises:
        acdc_core.adapters.benchmark_files.BenchmarkError: an unknown benchmark or a missing data package.
    """
    ctx = RunContext.load(run_dir)
    a = ctx.config.assessment
    out = {}
    for name in a.benchmarks:
        limit = a.limit_of(name)
        if a.source == "hub":
            out[name] = BenchmarkItems(benchmark(name).kind, list(range(limit or 0)))
            continue
        docs = subset(load_docs(name), limit, a.subset_seed)
        write_task(task_dir(ctx), name, docs, a.max_gen_toks)
        out[name] = BenchmarkItems(benchmark(name).kind, [d["doc_id"] for d in docs])
    return out


def task_dir(ctx: RunContext) -> Path:
    """Folder of the run's local lm-eval task configs."""
    return ctx.run_dir / "assessment" / "lm_eval_tasks"


def _doc_rows(rows: list[dict]) -> list[dict]:
    """``benchmark_docs`` rows from answer rows: each item as the model saw it."""
    return [{"benchmark": r["benchmark"], "doc_id": r["doc_id"], "prompt": r["prompt"], "choices": r["choices"],
             "target": r["target"]} for r in rows]


@task(name="benchmark-model", retries=1, retry_condition_fn=retry_unless_bad_input,
      task_run_name="benchmark-{model_id}")
def benchmark_model(run_dir: str, model_id: str, model_path: str, items: dict[str, BenchmarkItems],
                    samples: int = 0) -> int:
    """Answer every prepared item ``model_id`` has not answered yet (greedy / argmax), and,
    with ``samples`` > 0, also draw that many temperature samples per item.

    Multiple-choice samples come from the model's own distribution over the choices
    (softmax of the log-likelihoods at ``assessment.sample_temperature``); generative ones are
    sampled generations.  A code benchmark's programs are run against its tests in the run's
    sandbox before their rows are written.  Returns the number of rows written.
    """
    ctx = RunContext.load(run_dir)
    a, e = ctx.config.assessment, ctx.config.evaluation
    log = get_run_logger()

    def missing(name: str, sample: int) -> list[int]:
        done = ctx.db.read(queries.answered_docs, model_id, name, sample)
        return [k for k, d in enumerate(items[name].doc_ids) if d not in done]

    todo = {name: missing(name, 0) for name in items}
    gen_todo = {(name, s): missing(name, s) for name, spec in items.items() if spec.kind != "mc"
                for s in range(1, samples + 1)}
    written = 0
    if any(todo.values()) or any(gen_todo.values()):
        model = LMEvalModel(
            model_path, a.backend, task_dir(ctx) if a.source == "local" else None, batch_size=a.batch_size,
            device=e.device, dtype=e.dtype, base_url=a.base_url, max_gen_toks=a.max_gen_toks,
            torch_threads=e.torch_threads,
        )
        for name, indices in todo.items():
            kind = items[name].kind
            rows = model.answer(BenchmarkRequest(name, kind, indices),
                                chat_template=kind != "mc" and a.chat_template_generative)
            rows = _run_code_tests(ctx, kind, rows)
            ctx.db.insert_rows("benchmark_docs", _doc_rows(rows))
            written += ctx.db.insert_rows("benchmark_items", [{**r, "model_id": model_id} for r in rows])
            if rows:
                log.info("%s on %s: %d items, accuracy %.3f", model_id, name, len(rows),
                         sum(r["correct"] for r in rows) / len(rows))
        for (name, s), indices in gen_todo.items():
            kind = items[name].kind
            rows = model.answer(BenchmarkRequest(name, kind, indices, sample=s), chat_template=a.chat_template_generative,
                                temperature=a.sample_temperature, seed=a.seed + s)
            rows = _run_code_tests(ctx, kind, rows)
            written += ctx.db.insert_rows("benchmark_items", [{**r, "model_id": model_id} for r in rows])
    for name, spec in items.items():
        if samples and spec.kind == "mc":
            written += _sample_mc(ctx, model_id, name, spec.doc_ids, samples)
    return written


@task(name="reuse-answers", retries=0)
def reuse_answers(run_dir: str, model_ids: list[str], items: dict[str, BenchmarkItems]) -> int:
    """Copy the answers of ``model_ids`` to ``items`` (as :func:`prepare_benchmarks` returns
    them) that the runs of ``assessment.answers_from`` hold, so that the models several runs
    share (seeds, reference models, the sampled best seed) answer once.  A run answered with
    other settings (:meth:`AssessmentSection.answer_settings`) or not readable now (missing, or
    locked by a process writing to it) is skipped with a warning.  Returns the answers copied."""
    ctx = RunContext.load(run_dir)
    log = get_run_logger()
    mine = ctx.config.assessment.answer_settings(ctx.config.evaluation.dtype)
    copied = 0
    for src in ctx.config.assessment.answers_from:
        other = Path(src)
        try:
            cfg = load_config(other / CONFIG_FILE, check_paths=False)
            theirs = cfg.assessment.answer_settings(cfg.evaluation.dtype)
            if theirs != mine:
                diff = sorted(k for k in mine if mine[k] != theirs[k])
                log.warning("answers of %s not reused: it answered with other settings %s", src, diff)
                continue
            n = ctx.db.copy_answers(other / DB_FILE, model_ids, {name: spec.doc_ids for name, spec in items.items()})
        except (OSError, ConfigError, duckdb.Error) as exc:
            log.warning("answers of %s not reused: %s", src, exc)
            continue
        log.info("%d stored answers reused from %s", n, src)
        copied += n
    return copied


def _run_code_tests(ctx: RunContext, kind: str, rows: list[dict]) -> list[dict]:
    """Code rows with ``correct`` set: each program (``answer``) followed by its tests
    (``target``) run in the run's sandbox; other kinds unchanged."""
    if kind != "code" or not rows:
        return rows
    results = run_tests(sessions.sandbox(ctx), [f"{r['answer']}\n\n{r['target']}" for r in rows])
    return [{**r, "correct": passed} for r, (passed, _error) in zip(rows, results)]


def _sample_mc(ctx: RunContext, model_id: str, name: str, doc_ids: list[int], samples: int) -> int:
    """Temperature samples 1..``samples`` of a multiple-choice benchmark, drawn from the stored
    choice log-likelihoods of the greedy pass (no model call)."""
    a = ctx.config.assessment
    have = ctx.db.read(queries.benchmark_items, [model_id], name, doc_ids)
    greedy = have[have["sample"] == 0].set_index("doc_id")
    docs = [d for d in doc_ids if d in greedy.index]
    targets = ctx.db.read(queries.benchmark_targets, name)
    logliks = [list(greedy.loc[d, "choice_logliks"]) for d in docs]
    rng = np.random.default_rng([a.seed, int(stable_hash([model_id, name]), 16)])
    draws = sample_choices(logliks, samples, a.sample_temperature, rng)
    rows = []
    for j, d in enumerate(docs):
        p = choice_probabilities(logliks[j], a.sample_temperature)
        for k in range(samples):
            choice = int(draws[k, j])
            rows.append({"model_id": model_id, "benchmark": name, "doc_id": d, "sample": k + 1,
                         "correct": str(choice) == targets[d], "answer": str(choice),
                         "confidence": float(p[choice]), "choice_logliks": logliks[j], "response": None})
    return ctx.db.insert_rows("benchmark_items", rows)


@task(name="reference-model", retries=0)
def reference_model(run_dir: str, name: str, path: str | None, family: str | None) -> ReferenceModel:
    """Resolve a reference model (``assessment.reference_models``) to a local folder and
    register it; its id is the content hash.

    Raises:
        acdc_core.adapters.seeds.SeedError: a family whose package is missing, or a path that is no model.
    """
    from acdc_core.adapters.seeds import resolve_seed_path

    ctx = RunContext.load(run_dir)
    folder = shipped_seed_folder(family, "bfloat16", get_run_logger()) if family else str(resolve_seed_path(path))
    ref = ReferenceModel(content_hash(folder), name, folder, _n_params(folder))
    ctx.db.insert_rows("reference_models", [asdict(ref)])
    return ref


def _n_params(folder: str) -> int:
    total = 0
    for f in Path(folder).glob("*.safetensors"):
        with safe_open(str(f), framework="pt") as fh:
            for k in fh.keys():
                total += int(np.prod(fh.get_slice(k).get_shape()))
    return total


def assessed_pool(ctx: RunContext, purpose: str) -> AssessedPool:
    """The models the run's last committed generation leaves to measure (``purpose`` names the
    command in the error).

    Raises:
        LookupError: no generation is committed yet.
    """
    generation = ctx.db.read(queries.last_generation)
    if generation is None:
        raise LookupError(f"{ctx.run_dir}: no generation committed yet, nothing to {purpose}")
    return AssessedPool(generation, ctx.db.read(queries.seed_ids), ctx.db.read(queries.ever_archived),
                        ctx.db.read(queries.archive_ids, generation))


def save_assessment(ctx: RunContext, generation: int, sets: list[dict], results: list[dict]) -> None:
    """Store the assessed ``sets`` and ``results`` of ``generation`` (replacing a previous assessment of it)."""
    ctx.db.save_assessment(generation, [{**s, "generation": generation} for s in sets],
                           [{**r, "generation": generation} for r in results])


def assessment_sets(ctx: RunContext, pool: list[str], seed_ids: list[str]) -> list[dict]:
    """The sets ``acdc assess`` measures: task forces and the configured baselines chosen on the
    global skill vectors of ``pool`` over the whole task history (see
    :func:`acdc_core.assessment.selection.choose_sets`), each {"set_name", "kind", "n", "members",
    "synthetic_coverage"}."""
    a, e = ctx.config.assessment, ctx.config.evaluation
    task_ids = [t["task_id"] for t in ctx.db.read(queries.task_history)]
    scores, _ = skill_table(ctx.db.read(queries.all_scores, pool, task_ids), pool, task_ids, e.skill_granularity)
    solved = skill_vector(scores, e.solved_threshold).astype(bool)
    return [s for s in choose_sets(pool, solved, scores.mean(axis=1), seed_ids, a.set_sizes,
                                   np.random.default_rng(a.seed), a.max_combinations)
            if s["kind"] == "task_force_greedy" or s["kind"] in a.baselines]


def fill_global_skills(run_dir: str, ctx: RunContext, model_ids: list[str], generation: int) -> int:
    """Evaluate every (model, task instance) pair of the history not evaluated yet; rows go to
    ``evaluations`` with ``source = 'assess'`` and the assessed ``generation``.  Returns the number of pairs evaluated."""
    missing = ctx.db.read(queries.missing_pairs, model_ids)
    if not missing:
        return 0
    history = TaskSet.from_rows(ctx.db.read(queries.task_families))
    by_model: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for m, t, i in missing:
        by_model[m][t].append(i)
    for m, by_task in by_model.items():
        tasks = history.only(by_task)
        rows = evaluate_model(run_dir, m, stable_hash(sorted(by_task.items())), tasks)
        ctx.db.insert_rows("evaluations", [{**r, "generation": generation, "source": "assess"} for r in rows])
    return len(missing)


def assessment_results(ctx: RunContext, sets: list[dict], items: dict[str, BenchmarkItems],
                       model_ids: list[str]) -> list[dict]:
    """The ``assessment_results`` rows (without ``generation``) of ``sets`` on the benchmarks'
    stored answers: per benchmark and pooled, Holm-adjusted p-values, and the contamination check
    (:mod:`acdc_core.assessment.results`).  A judge's best-of-N methods need ``assessment.judge``."""
    a = ctx.config.assessment
    judge = sessions.judge(ctx, a.judge)
    judge_sets = {s["set_name"] for s in sets if s["kind"] == "task_force_greedy"}
    per_benchmark, oracles = {}, {}
    for name, spec in items.items():
        answers, questions = benchmark_answers(ctx, name, spec.kind, spec.doc_ids, model_ids)
        judged = judge is not None and (a.judge_benchmarks is None or name in a.judge_benchmarks)
        per_benchmark[name], oracles[name] = benchmark_results(
            name, spec.doc_ids, sets, answers, a.best_of_n, questions, judge.chat if judged else None,
            judge_sets, a.n_boot, a.seed,
        )
    if judge is None and any(m.startswith(("judge", "pairwise")) for m in a.best_of_n):
        get_run_logger().info("best-of-N judge methods skipped: judge.backend is none")
    results = [r for rows in per_benchmark.values() for r in rows]
    results += pooled_results(per_benchmark, sets, oracles, a.n_boot, a.seed)
    return holm_adjusted(results) + [{**r, "p_holm": None} for r in contamination_rows(ctx, items)]


def model_folders(ctx: RunContext, sets: list[dict], references: list[ReferenceModel]) -> dict[str, str]:
    """{model_id: local folder} of every member of ``sets``: the run's stored models and the
    ``references``."""
    paths = {m: str(ctx.model_dir(m)) for s in sets for m in s["members"] if s["kind"] != "reference"}
    return paths | {r.model_id: r.path for r in references}


def benchmark_answers(ctx: RunContext, name: str, kind: str, doc_ids: list[int], model_ids: list[str]) -> tuple[dict, list[str]]:
    """Answer table ({(model_id, sample): {doc_id: (correct, Candidate)}}) and the questions."""
    docs = ctx.db.read(queries.benchmark_docs, name)
    df = ctx.db.read(queries.benchmark_items, model_ids, name, doc_ids)
    answers: dict = defaultdict(dict)
    for r in df.itertuples():
        if kind == "mc":
            choices = docs.loc[r.doc_id, "choices"]
            text = choices[int(r.answer)] if choices is not None and int(r.answer) < len(choices) else r.answer
        else:
            text = r.response or ""
        conf = None if r.confidence is None or np.isnan(r.confidence) else float(r.confidence)
        answers[(r.model_id, int(r.sample))][int(r.doc_id)] = (bool(r.correct), Candidate(str(r.answer), text, conf))
    questions = []
    for d in doc_ids:
        q = docs.loc[d, "prompt"] if d in docs.index else ""
        if kind == "mc" and d in docs.index and docs.loc[d, "choices"] is not None:
            q += "\nOptions: " + " | ".join(docs.loc[d, "choices"])
        questions.append(q)
    return answers, questions


def contamination_rows(ctx: RunContext, items: dict[str, BenchmarkItems]) -> list[dict]:
    """Per benchmark, the share of assessed items sharing a word 13-gram with the task pool
    (every family's code and every instance ever admitted): ``set_name`` 'task_pool', metric
    'contaminated_items'.  A scientist LLM that writes benchmark questions from memory shows
    up here."""
    families = TaskSet.from_rows(ctx.db.read(queries.task_families))
    pool = [f.code for f in families.families] + [i.instructions for _, _, i in families.instances()]
    grams = BenchmarkNgrams(pool)
    rows = []
    for name, spec in items.items():
        docs = ctx.db.read(queries.benchmark_docs, name)
        texts = [docs.loc[d, "prompt"] for d in spec.doc_ids if d in docs.index]
        hits = grams.contaminated(texts)
        rows.append({"set_name": "task_pool", "benchmark": name, "metric": "contaminated_items",
                     "value": len(hits) / max(1, len(texts)), "ci_low": None, "ci_high": None, "p_value": None,
                     "n_items": len(texts)})
        if hits:
            get_run_logger().warning("%d of %d %s items share a 13-gram with the task pool", len(hits), len(texts), name)
    return rows
