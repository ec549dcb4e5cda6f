"""Per-benchmark numbers of an assessment: coverage with confidence intervals, p-values against
the task force, unique contributions, majority vote and best-of-N.

An *answer table* maps (model_id, sample) to {doc_id: (correct, Candidate)}: sample 0 is the
model's greedy (argmax) answer, samples 1.. its temperature samples.  A set's answer sources
are its members' greedy answers, or, for ``best_seed_sampled``, samples 1..n of its one model.
"""

from __future__ import annotations

import numpy as np

from acdc_core.assessment.best_of_n import Candidate, select
from acdc_core.assessment.statistics import (
    bootstrap_indices,
    holm,
    mean_ci,
    p_greater,
    p_greater_pooled,
    pooled_mean_ci,
    solved_by_any,
    unique_contributions,
)


def sources(s: dict) -> list[tuple[str, int]]:
    """(model_id, sample) answer sources of set ``s``."""
    if s["kind"] == "best_seed_sampled":
        return [(s["members"][0], k + 1) for k in range(s["n"])]
    return [(m, 0) for m in s["members"]]


def compared_to(s: dict, sets: list[dict]) -> str | None:
    """The task force a baseline is tested against: the greedy one of the same size, else the
    smallest greedy task force; None for task forces themselves."""
    if s["kind"].startswith("task_force"):
        return None
    forces = {x["n"]: x["set_name"] for x in sets if x["kind"] == "task_force_greedy"}
    if not forces:
        return None
    return forces.get(s["n"], forces[min(forces)])


def correct_matrix(s: dict, answers: dict, doc_ids: list[int]) -> np.ndarray:
    """(n_sources, n_items) bool; an item a source did not answer counts wrong."""
    srcs = sources(s)
    return np.array([[answers.get(src, {}).get(d, (False, None))[0] for d in doc_ids] for src in srcs],
                    dtype=bool).reshape(len(srcs), len(doc_ids))


def benchmark_results(benchmark: str, doc_ids: list[int], sets: list[dict], answers: dict,
                      methods: list[str], questions: list[str] | None = None, chat=None,
                      judge_sets: set[str] | None = None, n_boot: int = 2000,
                      seed: int = 0) -> tuple[list[dict], dict[str, np.ndarray]]:
    """Every result row of one benchmark (columns of ``assessment_results`` minus generation),
    and per set name its (n_items,) solved-by-any vector (the input of :func:`pooled_results`).

    Metrics per set: ``coverage`` (oracle: solved by any source, with CI and, for baselines, the
    p-value that the task force beats it), ``best_single`` (best source alone), ``unique:<id>``
    (items only that member solves), and ``bon_<method>`` for each best-of-N method.  Judge
    methods run only for sets in ``judge_sets`` and only when ``chat`` is given.
    """
    rng = np.random.default_rng(seed)
    idx = bootstrap_indices(len(doc_ids), n_boot, rng)
    matrices = {s["set_name"]: correct_matrix(s, answers, doc_ids) for s in sets}
    oracle = {name: solved_by_any(m).astype(float) for name, m in matrices.items()}
    rows = []

    def row(s, metric, values, p=None):
        value, lo, hi = mean_ci(values, idx)
        rows.append({"set_name": s["set_name"], "benchmark": benchmark, "metric": metric, "value": value,
                     "ci_low": lo, "ci_high": hi, "p_value": p, "n_items": len(doc_ids)})

    for s in sets:
        correct = matrices[s["set_name"]]
        ref = compared_to(s, sets)
        p = p_greater(oracle[ref], oracle[s["set_name"]], idx) if ref else None
        row(s, "coverage", oracle[s["set_name"]], p)
        singles = correct.mean(axis=1)
        row(s, "best_single", correct[int(np.argmax(singles))].astype(float))
        if s["kind"] != "best_seed_sampled" and len(s["members"]) > 1:
            for m, share in zip(s["members"], unique_contributions(correct)):
                rows.append({"set_name": s["set_name"], "benchmark": benchmark, "metric": f"unique:{m}",
                             "value": float(share), "ci_low": None, "ci_high": None, "p_value": None,
                             "n_items": len(doc_ids)})
        if len(correct) < 2:
            continue
        items = [[answers.get(src, {}).get(d, (False, Candidate("", "")))[1] for src in sources(s)] for d in doc_ids]
        for method in methods:
            judged = method.startswith(("judge", "pairwise"))
            if judged and (chat is None or s["set_name"] not in (judge_sets or set())):
                continue
            picks = select(method, items, questions, chat if judged else None)
            row(s, f"bon_{method}", correct[picks, np.arange(len(doc_ids))].astype(float))
    return rows, oracle


def holm_adjusted(rows: list[dict]) -> list[dict]:
    """``rows`` with ``p_holm``: Holm's adjustment over every comparison among them that has a
    p-value (each benchmark x baseline, and the pooled ones), None elsewhere."""
    tested = [i for i, r in enumerate(rows) if r.get("p_value") is not None]
    adjusted = dict(zip(tested, holm([rows[i]["p_value"] for i in tested])))
    return [{**r, "p_holm": adjusted.get(i)} for i, r in enumerate(rows)]


def pooled_results(per_benchmark: dict[str, list[dict]], sets: list[dict], oracles: dict[str, dict[str, np.ndarray]],
                   n_boot: int = 2000, seed: int = 0) -> list[dict]:
    """``benchmark = 'all'`` rows: coverage averaged over benchmarks with its 95% interval, and
    the one-sided p-value that the task force beats each baseline on average (both resample
    items within benchmarks).

    Args:
        per_benchmark: the rows of :func:`benchmark_results` by benchmark.
        oracles: per benchmark, the solved-by-any vectors :func:`benchmark_results` returned.
    """
    rng, ci_rng = np.random.default_rng(seed), np.random.default_rng([seed, 1])
    out = []
    for s in sets:
        name = s["set_name"]
        values = [r["value"] for rows in per_benchmark.values() for r in rows
                  if r["set_name"] == name and r["metric"] == "coverage"]
        if not values:
            continue
        ref = compared_to(s, sets)
        p = None
        if ref:
            p = p_greater_pooled([(o[ref], o[name]) for o in oracles.values()], n_boot, rng)
        _, lo, hi = pooled_mean_ci([o[name] for o in oracles.values()], n_boot, ci_rng)
        out.append({"set_name": name, "benchmark": "all", "metric": "coverage", "value": float(np.mean(values)),
                    "ci_low": lo, "ci_high": hi, "p_value": p,
                    "n_items": int(sum(len(o[name]) for o in oracles.values()))})
    return out


def coverage_by_set(results: list[dict]) -> dict[str, dict[str, float]]:
    """{set_name: {benchmark: coverage}} of the ``coverage`` rows of ``results``."""
    out: dict[str, dict[str, float]] = {}
    for r in results:
        if r["metric"] == "coverage":
            out.setdefault(r["set_name"], {})[r["benchmark"]] = r["value"]
    return out
