"""Crossover through mergekit and mutation on pico models: every method, real safetensors."""

import numpy as np
import pytest
import torch
import yaml
from mergekit.merge import MergeOptions, run_merge
from safetensors.torch import load_file

from acdc_core.adapters.candidates import build_weights, recipe_yaml, write_folder
from acdc_core.adapters.merging import merge_models, parse_merge_yaml
from acdc_core.adapters.weights import (
    _tensor_generator,
    content_hash,
    is_mutable,
    load_weights,
    mutate_folder,
    mutate_tensor,
    mutate_weights,
    tensor_hash,
)
from acdc_core.config import CrossoverSection
from acdc_core.merge_methods import MERGE_METHODS
from acdc_core.recipes import ChildRecipe, MergeRecipe, MutationRecipe, draw_merge
from acdc_core.rng import rng_stream


def weights(folder):
    return load_file(str(next(folder.glob("*.safetensors"))))


@pytest.mark.parametrize("method", sorted(MERGE_METHODS))
def test_every_method_merges_completely(pico_family, tmp_path, method):
    """Every method of the registry is drawn, configured and merged by mergekit as its entry says."""
    spec = MERGE_METHODS[method]
    recipe = draw_merge(["a", "b"], CrossoverSection(method=method), "base", rng_stream(0, 1, "breeding"))
    assert (recipe.base == "base") == spec.needs_base and (recipe.density is not None) == spec.uses_density
    assert (recipe.t is not None) == spec.pairwise == (recipe.weights is None)
    paths = {"a": str(pico_family["expert_a"]), "b": str(pico_family["expert_b"]), "base": str(pico_family["base"])}
    text = merge_models(recipe, paths, tmp_path / "out", "float32")
    out, ref = weights(tmp_path / "out"), weights(pico_family["expert_a"])
    assert set(out) == set(ref)
    for name, t in out.items():
        assert t.shape == ref[name].shape and torch.isfinite(t).all(), name
    assert (tmp_path / "out" / "tokenizer.json").exists()
    assert parse_merge_yaml(text).merge_method == method
    assert (tmp_path / "out" / "mergekit_config.yml").read_text() == text
    assert str(tmp_path) not in text and str(pico_family["base"].parent) not in text  # portable: ids only
    named = {m["model"] for m in yaml.safe_load(text)["models"]} | {yaml.safe_load(text).get("base_model")} - {None}
    assert named <= {"a", "b", "base"} and set(recipe.parents) <= named


def test_the_stored_recipe_remakes_the_same_weights(pico_family, tmp_path):
    recipe = draw_merge(["a", "b"], CrossoverSection(method="ties"), "base", rng_stream(0, 2, "breeding"))
    paths = {"a": str(pico_family["expert_a"]), "b": str(pico_family["expert_b"]), "base": str(pico_family["base"])}
    text = merge_models(recipe, paths, tmp_path / "out", "float32")
    run_merge(parse_merge_yaml(text, paths), str(tmp_path / "again"),
              MergeOptions(copy_tokenizer=True, random_seed=recipe.seed, quiet=True, write_model_card=False))
    assert content_hash(tmp_path / "again") == content_hash(tmp_path / "out")


@pytest.mark.parametrize("method", ["linear", "task_arithmetic"])
def test_linear_and_task_arithmetic_match_the_formula(pico_family, tmp_path, method):
    w = (0.3, 0.7)
    recipe = MergeRecipe(method=method, parents=("a", "b"), weights=w,
                         base="base" if method == "task_arithmetic" else None)
    paths = {"a": str(pico_family["expert_a"]), "b": str(pico_family["expert_b"]), "base": str(pico_family["base"])}
    merge_models(recipe, paths, tmp_path / "out", "float32")
    out = weights(tmp_path / "out")
    a, b, base = weights(pico_family["expert_a"]), weights(pico_family["expert_b"]), weights(pico_family["base"])
    for name in out:
        # with weights summing to 1 both equal base + sum_i w_i (theta_i - base)
        expected = base[name] + w[0] * (a[name] - base[name]) + w[1] * (b[name] - base[name])
        torch.testing.assert_close(out[name], expected, atol=1e-5, rtol=1e-4)


def test_unnormalised_task_arithmetic_adds_the_task_vectors_at_full_strength(pico_family, tmp_path):
    recipe = draw_merge(["a", "b"], CrossoverSection(method="task_arithmetic", normalize=False), "base",
                        rng_stream(0, 1, "breeding"))
    w = recipe.weights
    assert not recipe.normalize and sum(w) == pytest.approx(2.0, abs=0.1)  # N(1, .01) each, not rescaled
    paths = {"a": str(pico_family["expert_a"]), "b": str(pico_family["expert_b"]), "base": str(pico_family["base"])}
    text = merge_models(recipe, paths, tmp_path / "out", "float32")
    assert yaml.safe_load(text)["parameters"]["normalize"] is False
    out = weights(tmp_path / "out")
    a, b, base = weights(pico_family["expert_a"]), weights(pico_family["expert_b"]), weights(pico_family["base"])
    for name in out:
        expected = base[name] + w[0] * (a[name] - base[name]) + w[1] * (b[name] - base[name])
        torch.testing.assert_close(out[name], expected, atol=1e-5, rtol=1e-4)
    # the in-memory merge (the run's path) agrees with mergekit's run_merge on the stored recipe
    mem = build_weights(ChildRecipe(generation=1, index=0, merge=recipe), lambda m: load_weights(paths[m]), "float32")
    assert tensor_hash(mem) == content_hash(tmp_path / "out")


def test_dare_is_reproducible_from_its_seed(pico_family, tmp_path):
    recipe = draw_merge(["a", "b"], CrossoverSection(method="dare_ties"), "base", rng_stream(3, 1, "breeding"))
    paths = {"a": str(pico_family["expert_a"]), "b": str(pico_family["expert_b"]), "base": str(pico_family["base"])}
    merge_models(recipe, paths, tmp_path / "one", "float32")
    merge_models(recipe, paths, tmp_path / "two", "float32")
    assert content_hash(tmp_path / "one") == content_hash(tmp_path / "two")


def test_svd_mutation_moves_top_singular_values_only():
    w = torch.randn(40, 24, generator=torch.Generator().manual_seed(0))
    r = MutationRecipe(method="svd", seed=5, noise_std=0.5, top_k=8)
    m = mutate_tensor("layer.weight", w, r)
    s0, s1 = torch.linalg.svdvals(w), torch.linalg.svdvals(m)
    assert not torch.allclose(s0[:8].sort().values, s1.sort(descending=True).values[:8].sort().values)
    # the bottom singular values (and the singular vectors) are untouched
    u, s, vh = torch.linalg.svd(w, full_matrices=False)
    resid = m - (u[:, :8] * (u[:, :8].T @ m @ vh[:8].T).diagonal()) @ vh[:8]
    torch.testing.assert_close(resid, (u[:, 8:] * s[8:]) @ vh[8:], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(m, mutate_tensor("layer.weight", w, r))  # deterministic
    assert not torch.allclose(m, mutate_tensor("other.weight", w, r))  # per-tensor streams


@pytest.mark.parametrize("shape", [(40, 24), (24, 40)])
def test_svd_mutation_adds_the_seeded_noise_to_singular_values(shape):
    w = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    r = MutationRecipe(method="svd", seed=3, noise_std=0.3, top_k=10)
    s = torch.linalg.svdvals(w)
    noise = torch.randn(10, generator=_tensor_generator(r, "w")) * 0.3
    expected = torch.cat([torch.clamp(s[:10] + noise, min=0), s[10:]]).sort(descending=True).values
    got = torch.linalg.svdvals(mutate_tensor("w", w, r))
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)


def test_model_mutation_is_the_same_on_any_thread_count_and_restores_it():
    g = torch.Generator().manual_seed(2)
    w = {f"layers.{i}.weight": torch.randn(96, 64, generator=g).to(torch.bfloat16) for i in range(6)}
    w["norm.weight"] = torch.ones(64)
    r = MutationRecipe(method="svd", seed=4, noise_std=0.25, top_k=32)
    threads = torch.get_num_threads()
    try:
        got = {}
        for n in (1, 2):
            torch.set_num_threads(n)
            got[n] = mutate_weights(w, r)
            assert torch.get_num_threads() == n
    finally:
        torch.set_num_threads(threads)
    assert tensor_hash(got[1]) == tensor_hash(got[2])
    assert got[1]["norm.weight"] is w["norm.weight"]  # not mutable: shared with the input
    assert all(torch.equal(got[1][k], mutate_tensor(k, w[k], r)) for k in w if k != "norm.weight")
    with pytest.raises(ValueError, match="non-finite"):
        mutate_weights({"w": torch.full((8, 8), float("inf"))}, MutationRecipe(method="gaussian", seed=1,
                                                                                noise_std=0.1))


def test_svd_singular_values_clamped_at_zero():
    w = torch.diag(torch.tensor([1.0, 0.01, 0.001]))
    m = mutate_tensor("w", w, MutationRecipe(method="svd", seed=1, noise_std=100.0, top_k=3))
    assert (torch.linalg.svdvals(m) >= -1e-5).all()


def test_mutate_folder_skips_norms_and_is_seeded(pico_family, tmp_path):
    r = MutationRecipe(method="gaussian", seed=9, noise_std=0.1)
    mutate_folder(pico_family["base"], tmp_path / "m1", r)
    mutate_folder(pico_family["base"], tmp_path / "m2", r)
    assert content_hash(tmp_path / "m1") == content_hash(tmp_path / "m2")
    before, after = weights(pico_family["base"]), weights(tmp_path / "m1")
    changed = {n for n in before if not torch.equal(before[n], after[n])}
    assert changed == {n for n, t in before.items() if is_mutable(n, t)}
    assert not any("norm" in n for n in changed)
    assert (tmp_path / "m1" / "config.json").exists()
    assert np.isfinite([after[n].sum().item() for n in after]).all()


@pytest.mark.parametrize("method", sorted(MERGE_METHODS))
def test_a_child_made_in_memory_equals_the_folder_path_bit_for_bit(pico_family, tmp_path, method):
    """mergekit's in-memory merge + the in-memory mutation give exactly the tensors of
    ``run_merge`` + ``mutate_folder``, and the id of the tensors is the id of the folder."""
    merge = draw_merge(["a", "b"], CrossoverSection(method=method), "base", rng_stream(5, 2, "breeding"))
    recipe = ChildRecipe(generation=1, index=0, merge=merge,
                         mutation=MutationRecipe(method="svd", seed=11, noise_std=0.05, top_k=4))
    paths = {"a": pico_family["expert_a"], "b": pico_family["expert_b"], "base": pico_family["base"]}
    merge_models(merge, {k: str(v) for k, v in paths.items()}, tmp_path / "merged", "bfloat16")
    mutate_folder(tmp_path / "merged", tmp_path / "mutated", recipe.mutation)
    loads = []
    made = build_weights(recipe, lambda mid: loads.append(mid) or load_weights(paths[mid]), "bfloat16")
    assert sorted(loads) == sorted(merge.inputs)  # each input read once
    ref = weights(tmp_path / "mutated")
    assert set(made) == set(ref) and all(made[n].dtype == torch.bfloat16 for n in made)
    assert all(torch.equal(made[n], ref[n]) for n in ref)
    assert tensor_hash(made) == content_hash(tmp_path / "mutated")
    assert recipe_yaml(recipe, "bfloat16") == (tmp_path / "merged" / "mergekit_config.yml").read_text()
    # the stored folder of the in-memory child loads back to the same tensors and id
    out = write_folder(made, paths[recipe.template], tmp_path / "stored", recipe.model_dump(mode="json"),
                       recipe_yaml(recipe, "bfloat16"))
    assert content_hash(out) == tensor_hash(made)
    assert (out / "tokenizer.json").exists() and (out / "mergekit_config.yml").exists()
    assert parse_merge_yaml((out / "mergekit_config.yml").read_text()).merge_method == method


def test_tensor_hash_sees_names_dtypes_shapes_and_bytes():
    w = {"a": torch.arange(6, dtype=torch.float32).reshape(2, 3), "b": torch.ones(2)}
    h = tensor_hash(w)
    assert tensor_hash(dict(reversed(list(w.items())))) == h  # order-free
    assert tensor_hash({**w, "a": w["a"].reshape(3, 2)}) != h
    assert tensor_hash({**w, "a": w["a"].to(torch.float64)}) != h
    assert tensor_hash({"c": w["a"], "b": w["b"]}) != h
    bumped = w["a"].clone()
    bumped[1, 2] = torch.nextafter(bumped[1, 2], torch.tensor(100.0))
    assert tensor_hash({**w, "a": bumped}) != h
