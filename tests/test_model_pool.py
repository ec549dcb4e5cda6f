"""The pool of resident models, on real pico transformers models."""

from __future__ import annotations

import pytest

from acdc_core.adapters.backends import load_backend
from acdc_core.adapters.backends.pool import ModelPool

PROMPTS = ["What is 12 + 30?", "Reverse the word cat.", "Sort 3 1 2"]


def loader(path, calls: list):
    def load():
        calls.append(str(path))
        return load_backend("hf", str(path), batch_size=4, torch_threads=1)
    return load


def test_a_resident_model_answers_as_a_fresh_load_and_is_loaded_once(pico_family):
    pool, calls = ModelPool(budget_bytes=10**9), []
    with pool.session("base", loader(pico_family["base"], calls)) as b:
        first = [g.text for g in b.generate(PROMPTS, 6)]
    with pool.session("base", loader(pico_family["base"], calls)) as b:
        again = [g.text for g in b.generate(PROMPTS, 6)]
    fresh = load_backend("hf", str(pico_family["base"]), batch_size=4, torch_threads=1)
    try:
        assert again == first == [g.text for g in fresh.generate(PROMPTS, 6)]
    finally:
        fresh.close()
    assert calls == [str(pico_family["base"])] and (pool.loads, pool.hits) == (1, 1)
    pool.clear()
    assert "base" not in pool and pool.resident_bytes == 0


def test_the_budget_evicts_the_least_recently_used(pico_family):
    calls: list = []
    probe = load_backend("hf", str(pico_family["base"]), torch_threads=1)
    size = probe.nbytes
    probe.close()
    assert size > 0
    pool = ModelPool(budget_bytes=2 * size)  # room for two of the three
    names = ("base", "expert_a", "expert_b")
    kept = {}
    for name in names:
        with pool.session(name, loader(pico_family[name], calls)) as b:
            kept[name] = b
    assert "base" not in pool and "expert_a" in pool and "expert_b" in pool
    assert not hasattr(kept["base"], "model")  # closed when it was evicted
    assert pool.resident_bytes <= pool.budget_bytes
    with pool.session("expert_a", loader(pico_family["expert_a"], calls)):
        pass  # now the most recently used
    with pool.session("base", loader(pico_family["base"], calls)):
        pass
    assert "expert_b" not in pool and {"base", "expert_a"} <= {n for n in names if n in pool}
    assert len(calls) == 4 and pool.hits == 1
    pool.clear()


@pytest.mark.parametrize("budget", [0, 1])
def test_a_budget_too_small_keeps_nothing(pico_family, budget):
    pool, calls = ModelPool(budget_bytes=budget), []
    for _ in range(2):
        with pool.session("base", loader(pico_family["base"], calls)) as b:
            b.generate(PROMPTS[:1], 2)
        assert "base" not in pool and not hasattr(b, "model")
    assert len(calls) == 2 and pool.hits == 0


def test_a_failed_session_closes_its_model(pico_family):
    pool, calls = ModelPool(budget_bytes=10**9), []
    with pytest.raises(RuntimeError, match="scoring broke"):
        with pool.session("base", loader(pico_family["base"], calls)) as b:
            raise RuntimeError("scoring broke")
    assert "base" not in pool and not hasattr(b, "model")
