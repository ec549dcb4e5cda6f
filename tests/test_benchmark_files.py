"""The shipped benchmark files: every catalogue entry parses, and OLMo's basic-skills items reach
lm-evaluation-harness as zero-shot multiple choice over their own choices."""

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


def test_basic_skills_read_the_question_and_reach_lm_eval_zero_shot(tmp_path):
    from lm_eval.tasks import TaskManager

    docs = load_docs("basic_skills_arithmetic")
    first = docs[0]
    assert first["prompt"] == "4 * 8 =" and first["choices"][int(first["target"])] == "32"
    picked = subset(load_docs("basic_skills_string_operations"), 5, seed=3)
    task = TaskManager(include_path=str(write_task(tmp_path, "basic_skills_string_operations", picked, 8)),
                       include_defaults=False).load_task_or_group(["basic_skills_string_operations"])
    task = task["basic_skills_string_operations"]
    seen = list(task.test_docs())
    assert [task.doc_to_text(d) for d in seen] == [d["prompt"] for d in picked]  # no shots, no wrapper
    assert [task.doc_to_choice(d) for d in seen] == [d["choices"] for d in picked]
    assert [task.doc_to_target(d) for d in seen] == [int(d["target"]) for d in picked]
