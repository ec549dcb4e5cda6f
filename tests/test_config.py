"""Config validation: every bad config fails at start with a message naming the key."""

import pytest
import yaml

from acdc_core.config import ConfigError, load_config, parse_config


def test_presets_validate():
    default = load_config(preset="default")
    assert default.models.family == "smollm2" and default.crossover.method == "linear"
    paper = load_config(preset="paper")  # hub ids: validated, never fetched
    assert [s.path for s in paper.models.seeds][0] == "Qwen/Qwen2.5-7B-Instruct"
    assert paper.population.archive_size == 16 and paper.population.children_per_generation == 8
    assert (paper.evaluation.backend, paper.evaluation.max_new_tokens) == ("vllm", 512)  # the reference's
    assert not default.sandbox.allow_weak_isolation  # untrusted code needs namespaces unless allowed
    limits = parse_config({"sandbox": {"disk_mb": 16, "judge_s_per_item": 5}}).sandbox.limits()
    assert (limits.disk_mb, limits.judge_s_per_item, limits.timeout_s) == (16, 5.0, 10.0)


@pytest.mark.parametrize("data, message", [
    ({"population": {"archive_sise": 4}}, "population.archive_sise: unknown key"),
    ({"bogus": 1}, "bogus: unknown key"),
    ({"population": {"archive_size": "many"}}, "population.archive_size"),
    ({"population": {"archive_size": 0}}, "population.archive_size"),
    ({"crossover": {"method": "slerp", "parents": 3}}, "slerp merges exactly 2 parents, got crossover.parents=3"),
    ({"crossover": {"method": "frankenmerge"}}, "crossover.method"),
    ({"mutation": {"svd_noise_std": -1}}, "mutation.svd_noise_std"),
    ({"evaluation": {"prompt_template": "no slot"}}, "evaluation.prompt_template must contain"),
    ({"models": {"seeds": [{"path": "/nonexistent/model"}]}}, "models.seeds[0].path"),
    ({"models": {"family": None}}, "no seed model"),
    ({"models": {"initial_mutants": 0, "experts": []}, "crossover": {"parents": 3}}, "fewer than crossover.parents=3"),
    ({"models": {"family": "llama9"}}, "models.family"),
    ({"models": {"experts": [{"name": "m", "skill": "poetry"}]}}, "models.experts.0.skill"),
    ({"models": {"experts": [{"name": "m", "skill": "math", "lr": 0}]}}, "models.experts.0.lr"),
    ({"models": {"experts": [{"name": "a", "skill": "math"}, {"name": "a", "skill": "code"}]}},
     "names must be unique"),
    ({"scientist": {"backend": "openai", "model": "m"}}, "scientist.backend: openai needs scientist.base_url"),
    ({"scientist": {"backend": "hf", "model": "/nonexistent/chat"}}, "scientist.model: model path"),
    ({"judge": {"backend": "hf"}}, "judge.backend: hf needs judge.model"),
    ({"gibberish": {"method": "llm_judge"}}, "llm_judge needs a judge"),
    ({"novelty": {"embedder": "no-such-embedder"}}, "novelty.embedder: 'no-such-embedder' is not installed"),
    ({"novelty": {"max_similarity": 1.5}}, "novelty.max_similarity"),
    ({"adaptation": {"novel_new_share": -0.1}}, "adaptation.novel_new_share"),
    ({"adaptation": {"drop_unsolved_after": 0}}, "adaptation.drop_unsolved_after"),
    ({"adaptation": {"min_pool": -1}}, "adaptation.min_pool"),
    ({"adaptation": {"min_pool": "half"}}, "adaptation.min_pool"),
    ({"evaluation": {"skill_granularity": "task"}}, "evaluation.skill_granularity"),
    ({"crossover": {"method_mix": {"ties": -1.0, "linear": 2.0}}}, "crossover.method_mix: weights must be >= 0"),
    ({"crossover": {"method_mix": {"ties": 0.0}}}, "with a positive sum"),
    ({"crossover": {"method_mix": {"frankenmerge": 1.0}}}, "crossover.method_mix.frankenmerge"),
    ({"crossover": {"method_mix": {"slerp": 1.0}, "parents": 3}}, "crossover.method_mix: slerp merges exactly 2"),
    ({"crossover": {"normalize": False}}, "crossover.normalize: false adds task vectors, which ['linear']"),
    ({"crossover": {"method": "ties", "normalize": False, "method_mix": {"ties": 1.0, "slerp": 1.0}}},
     "which ['slerp'] do not have"),
    ({"crossover": {"rate": 1.5}}, "crossover.rate"),
    ({"archive": {"selection": "best"}}, "archive.selection"),
    ({"evaluation": {"dtype": "int8"}}, "evaluation.dtype"),
    ({"sandbox": {"disk_mb": 0}}, "sandbox.disk_mb"),
    ({"assessment": {"source": "hub", "benchmarks": ["arc_easy", "basic_skills_pattern"]}},
     "assessment.benchmarks: ['basic_skills_pattern'] are not lm-eval tasks"),
    ({"assessment": {"benchmarks": ["basic_skills_poetry"]}}, "assessment.benchmarks.0"),
    ({"assessment": {"source": "hub", "benchmarks": ["mmlu_rc", "piqa", "mbpp"]}},
     "['mmlu_rc', 'mbpp'] are not lm-eval tasks"),
    ({"sandbox": {"allow_weak_isolation": "maybe"}}, "sandbox.allow_weak_isolation"),
    ({"assessment": {"judge": {"backend": "hf", "model": "/nonexistent/judge"}}}, "assessment.judge.model: model path"),
    ({"assessment": {"judge": {"backend": "hf"}}}, "judge.backend: hf needs judge.model"),
    ({"assessment": {"benchmarks": ["arc_easy"], "judge_benchmarks": ["gsm8k"]}},
     "assessment.judge_benchmarks: ['gsm8k'] are not in assessment.benchmarks"),
])
def test_bad_configs_name_the_key(data, message):
    with pytest.raises(ConfigError) as err:
        parse_config(data)
    assert message in str(err.value)


def test_a_shipped_family_names_a_local_chat_model():
    cfg = parse_config({"judge": {"backend": "hf", "model": "gemma3"},
                        "assessment": {"judge": {"backend": "hf", "model": "smollm2", "chat_template": "{{ x }}"}}})
    assert (cfg.judge.model, cfg.assessment.judge.model) == ("gemma3", "smollm2")


def test_experts_default_to_four_skills_for_a_shipped_family(tmp_path):
    skills = ["math", "code", "strings", "logic"]
    assert [(e.name, e.skill) for e in parse_config({}).models.experts] == [(s, s) for s in skills]
    assert load_config().models.experts == parse_config({}).models.experts  # the preset spells out the same
    assert [e.skill for e in parse_config({"models": {"family": "gemma3"}}).models.experts] == skills
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    seeded = parse_config({"models": {"seeds": [{"path": str(tmp_path / "m")}]}})
    assert seeded.models.experts == []  # user-named seeds are the experts
    both = parse_config({"models": {"seeds": [{"path": str(tmp_path / "m")}],
                                    "experts": [{"name": "m2", "skill": "math"}]}})
    assert [e.name for e in both.models.experts] == ["m2"]
    assert parse_config(yaml.safe_load(seeded.to_yaml())) == seeded


def test_seed_folder_without_config_json(tmp_path):
    (tmp_path / "m").mkdir()
    with pytest.raises(ConfigError, match=r"models.seeds\[0\].path: .* not a Hugging Face model folder"):
        parse_config({"models": {"seeds": [{"path": str(tmp_path / "m")}]}})


def test_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("run: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    bad.write_text("- a list")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(bad)
    bad.write_text("# only a comment\n")
    with pytest.raises(ConfigError, match="is empty; leave out --config"):
        load_config(bad)
    with pytest.raises(ConfigError, match="unknown preset"):
        load_config(preset="nope")


def test_round_trip_yaml(tmp_path):
    cfg = parse_config({"run": {"seed": 5}, "crossover": {"method": "ties"}})
    p = tmp_path / "c.yaml"
    p.write_text(cfg.to_yaml())
    assert load_config(p) == cfg
    assert yaml.safe_load(cfg.to_yaml())["crossover"]["density"] == 0.5


def test_a_run_from_before_a_setting_existed_resumes_at_its_default(tmp_path):
    """A run folder whose stored config predates a setting resumes with the setting at its
    default; a resume that asks for another value is refused, naming the key."""
    from tasks.run_folder import init_run

    cfg = parse_config({})
    init_run(tmp_path / "run", cfg)
    stored = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    del stored["evaluation"]["share_prefix"]  # as an older version wrote it
    (tmp_path / "run" / "config.yaml").write_text(yaml.safe_dump(stored))
    assert init_run(tmp_path / "run", cfg).config.evaluation.share_prefix is True
    with pytest.raises(ConfigError, match="evaluation.share_prefix"):
        init_run(tmp_path / "run", parse_config({"evaluation": {"share_prefix": False}}))
