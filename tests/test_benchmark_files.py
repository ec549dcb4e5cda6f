"""The shipped benchmark files: every catalogue entry parses, and OLMo's basic-skills items and
MMLU's reach lm-evaluation-harness as zero-shot multiple choice over their own choices."""

from __future__ import annotations

import pytest

from acdc_core.adapters.benchmark_files import BENCHMARKS, load_docs, subset, write_task


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_every_benchmark_parses_into_prompts_with_a_valid_gold(name):
    docs = load_docs(name)
    assert len(docs) > 100 and len({d["doc_id"] for d in docs}) == len(docs)
    for d in docs:
        assert isinstance(d["prompt"], str) and d["prompt"].strip()
        if BENCHMARKS[name].kind == "mc":
            assert len(d["choices"]) >= 2 and 0 <= int(d["target"]) < len(d["choices"])
        else:
            assert d["choices"] is None and d["target"]


def test_mmlu_reads_every_subject_as_cloze_questions():
    docs = load_docs("mmlu_rc")
    assert len(docs) == 14042 and [d["doc_id"] for d in docs] == list(range(14042))
    first = docs[0]  # abstract_algebra, the first subject by name
    assert first["prompt"].startswith("Question: Find the degree for the given field extension Q(sqrt(2)")
    assert first["prompt"].endswith("\nAnswer:") and first["choices"][int(first["target"])] == "4"
    assert {len(d["choices"]) for d in docs} == {4}


@pytest.mark.parametrize("name, first", [("basic_skills_arithmetic", ("4 * 8 =", "32")), ("mmlu_rc", None)])
def test_items_reach_lm_eval_zero_shot(tmp_path, name, first):
    from lm_eval.tasks import TaskManager

    docs = load_docs(name)
    if first:
        assert docs[0]["prompt"] == first[0] and docs[0]["choices"][int(docs[0]["target"])] == first[1]
    picked = subset(docs, 5, seed=3)
    task = TaskManager(include_path=str(write_task(tmp_path, name, picked, 8)),
                       include_defaults=False).load_task_or_group([name])[name]
    seen = list(task.test_docs())
    assert [task.doc_to_text(d) for d in seen] == [d["prompt"] for d in picked]  # no shots, no wrapper
    assert [task.doc_to_choice(d) for d in seen] == [d["choices"] for d in picked]
    assert [task.doc_to_target(d) for d in seen] == [int(d["target"]) for d in picked]
