"""No benchmark item reaches what the run learns from: the seed task families, the template
scientist's whole catalogue, or the seed experts' training data (13-gram rule, as lm-eval)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from acdc_core.adapters.benchmark_files import BENCHMARKS, load_docs
from acdc_core.adapters.decontamination import BenchmarkNgrams
from acdc_core.adapters.sandbox import Sandbox
from acdc_core.expert_data import SKILLS, training_items
from acdc_core.scientist.templates import catalogue, render
from acdc_core.taskfamily import seed_families


@pytest.fixture(scope="module")
def benchmark_grams() -> BenchmarkNgrams:
    texts = []
    for name in BENCHMARKS:
        for d in load_docs(name):
            texts.append(d["prompt"])
            texts += d["choices"] or []
    grams = BenchmarkNgrams(texts)
    assert len(grams) > 100_000  # every benchmark's text is in (hellaswag alone is 10k items)
    return grams


def test_the_check_finds_a_benchmark_question_hidden_in_a_task(benchmark_grams):
    gsm = load_docs("gsm8k")[7]["prompt"]
    arc = next(d["prompt"] for d in load_docs("arc_easy") if len(d["prompt"].split()) > 20)
    task = f"Solve this for me, friend. {gsm.upper()} Give just the number."
    assert benchmark_grams.contaminated(["What is 2 + 3?", task, arc.replace("?", "!")]) == [1, 2]


def test_seed_tasks_and_the_template_catalogue_hold_no_benchmark_text(benchmark_grams):
    sandbox = Sandbox()
    texts = []
    for fam in seed_families():
        texts.append(fam.code)
        texts += [i["instructions"] for i in sandbox.instances(fam.code, 8).values()]
    codes = [render(*entry) for entry in catalogue()]
    assert len(codes) == 330
    hits = {i: sorted(benchmark_grams.shared(t))[:3] for i, t in enumerate(texts + codes) if benchmark_grams.shared(t)}
    assert not hits


def test_seed_expert_training_data_holds_no_benchmark_text(benchmark_grams):
    for skill in SKILLS:
        own, replay = training_items(skill, 2000, 0.2, data_seed=0)
        texts = [t for i in own + replay for t in (i.instructions, i.completion)]
        assert benchmark_grams.contaminated(texts) == []


def test_no_basic_skills_question_is_an_expert_training_instruction():
    """Basic-skills items are too short for the 13-gram rule: compare whole questions instead,
    up to case and punctuation."""
    def norm(text: str) -> str:
        return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())

    questions = {norm(d["prompt"]) for name in BENCHMARKS if name.startswith("basic_skills_")
                 for d in load_docs(name)}
    assert len(questions) > 5000
    for skill in SKILLS:
        own, replay = training_items(skill, 2000, 0.2, data_seed=0)
        assert not questions & {norm(i.instructions) for i in own + replay}, skill


def test_the_run_never_loads_benchmark_code():
    """The run's code path imports neither the benchmark files nor lm-eval."""
    probe = ("import sys, flows.run, flows.generation, flows.adaptation, flows.seeds; "
             "print(sorted(m for m in sys.modules if m.startswith(('acdc_core.adapters.benchmark_files', 'lm_eval', 'olmo_eval', "
             "'acdc_core.assessment', 'tasks.assessment'))))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
