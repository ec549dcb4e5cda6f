"""Genotypes of new models: merge and mutation recipes, drawn from a seeded RNG.

A recipe is data: it names its parents by model id and carries every random draw (weights,
seeds), so the same recipe regenerates the same child.  ``mergekit_config`` turns a merge
recipe into a mergekit configuration mapping once parents have local paths.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from acdc_core.config import CrossoverSection, MutationSection
from acdc_core.hashing import stable_hash
from acdc_core.merge_methods import MERGE_METHODS, MergeMethod


class MergeRecipe(BaseModel):
    """Crossover of ``parents`` (model ids) with ``method``.

    ``weights`` sum to 1 (every method but the pairwise ones) unless ``normalize`` is False (a
    task-vector method adds the parents' task vectors at these weights); ``t`` is a pairwise method's
    (slerp's) interpolation factor towards the second parent; ``base`` is the base model id for
    task-vector methods; ``density`` is the share of each task vector kept, for the methods that
    use one (see :data:`acdc_core.merge_methods.MERGE_METHODS`); ``seed`` seeds mergekit's random
    parts (dare).
    """

    model_config = ConfigDict(frozen=True)
    method: MergeMethod
    parents: tuple[str, ...]
    weights: tuple[float, ...] | None = None
    t: float | None = None
    density: float | None = None
    base: str | None = None
    seed: int = 0
    normalize: bool = True

    @property
    def inputs(self) -> tuple[str, ...]:
        """Every model the merge reads: the parents, then the base when it is not one of them."""
        return tuple(dict.fromkeys([*self.parents, *([self.base] if self.base else [])]))


class MutationRecipe(BaseModel):
    """Weight perturbation. ``svd``: noise N(0, noise_std) on the top_k singular values of every
    2-D weight matrix (clamped at 0); ``gaussian``: per-weight noise N(0, noise_std * std(W))."""

    model_config = ConfigDict(frozen=True)
    method: Literal["svd", "gaussian"]
    seed: int
    noise_std: float
    top_k: int | None = None


class ChildRecipe(BaseModel):
    """How one model is made: an optional merge, then an optional mutation, from ``source``
    (a single parent id) when there is no merge."""

    model_config = ConfigDict(frozen=True)
    generation: int
    index: int
    merge: MergeRecipe | None = None
    mutation: MutationRecipe | None = None
    source: str | None = None

    @property
    def parents(self) -> tuple[str, ...]:
        if self.merge is not None:
            return self.merge.parents
        return (self.source,) if self.source else ()

    @property
    def template(self) -> str | None:
        """The model whose config and tokenizer the child takes (mergekit's rule: the merge's
        base model, else its first model; a mutation's source)."""
        if self.merge is not None:
            return self.merge.base or self.merge.parents[0]
        return self.source

    @property
    def operator(self) -> str:
        parts = [self.merge.method] if self.merge else []
        parts += [f"mutate:{self.mutation.method}"] if self.mutation else []
        return "+".join(parts) or "copy"

    def key(self) -> str:
        """Hash of the recipe without its slot (generation, index): equal recipes, equal key."""
        return stable_hash(self.model_dump(mode="json", exclude={"generation", "index"}))


class Candidate(BaseModel):
    """A child made from ``recipe``: ``model_id`` is the hash of its tensors, ``merge_config_yaml``
    the portable mergekit YAML of its merge (parents by id), ``uri`` where its weights are stored
    (None until the archive keeps it; until then it is remade from its recipe when needed)."""

    model_config = ConfigDict(frozen=True)
    model_id: str
    recipe: ChildRecipe
    merge_config_yaml: str | None = None
    uri: str | None = None

    @property
    def parents(self) -> tuple[str, ...]:
        return self.recipe.parents

    @property
    def operator(self) -> str:
        return self.recipe.operator

    @property
    def seed(self) -> int | None:
        """The seed of its last random step (the mutation's, else the merge's)."""
        r = self.recipe
        return r.mutation.seed if r.mutation else (r.merge.seed if r.merge else None)


def draw_mutation(cfg: MutationSection, rng: np.random.Generator) -> MutationRecipe | None:
    """A mutation recipe per ``cfg``, or None when mutation is off."""
    if cfg.method == "none":
        return None
    seed = int(rng.integers(0, 2**31 - 1))
    if cfg.method == "svd":
        return MutationRecipe(method="svd", seed=seed, noise_std=cfg.svd_noise_std, top_k=cfg.svd_top_k)
    return MutationRecipe(method="gaussian", seed=seed, noise_std=cfg.gaussian_std)


def _forced_mutation(cfg: MutationSection) -> MutationSection:
    """``cfg``, or Gaussian mutation when it is off: for children that have no merge."""
    return cfg if cfg.method != "none" else cfg.model_copy(update={"method": "gaussian"})


def propose_initial_mutants(seeds: list[str], n: int, mutation: MutationSection,
                            rng: np.random.Generator) -> list[ChildRecipe]:
    """Generation 0's ``n`` mutants (Gaussian when mutation is off), spread over ``seeds``:
    every seed gets one before any gets a second, in an order shuffled per round.

    Raises:
        ValueError: when ``n > 0`` and there is no seed.
    """
    if n and not seeds:
        raise ValueError("initial mutants need at least one seed model")
    mut = _forced_mutation(mutation)
    sources: list[str] = []
    while len(sources) < n:
        sources += [seeds[int(i)] for i in rng.permutation(len(seeds))]
    return [ChildRecipe(generation=0, index=i, source=src, mutation=draw_mutation(mut, rng))
            for i, src in enumerate(sources[:n])]


def draw_method(cfg: CrossoverSection, rng: np.random.Generator) -> str:
    """The merge method of one child: ``cfg.method``, or a draw from ``cfg.method_mix``
    (no random draw is consumed without a mix)."""
    if not cfg.method_mix:
        return cfg.method
    methods = sorted(cfg.method_mix)
    p = np.array([cfg.method_mix[m] for m in methods], dtype=float)
    return methods[int(rng.choice(len(methods), p=p / p.sum()))]


def draw_merge(
    parents: list[str], cfg: CrossoverSection, base: str | None, rng: np.random.Generator,
    method: str | None = None,
) -> MergeRecipe:
    """A merge recipe of ``parents`` per ``cfg``, with ``method`` (default ``cfg.method``).

    Weights are drawn w_i ~ N(weight_mean, weight_std) and normalised to sum 1 (ALGORITHM.md step
    2); with normalised weights a linear merge equals base + sum_i w_i (theta_i - base), the
    reference's linear merge of task vectors.  With ``cfg.normalize`` False they stay as drawn
    (made positive), and the recipe tells mergekit not to normalise.

    Raises:
        ValueError: for a task-vector method without ``base``, or a pairwise method (slerp) with != 2 parents.
    """
    method = method or cfg.method
    spec = MERGE_METHODS[method]
    if spec.needs_base and base is None:
        raise ValueError(f"crossover.method {method} needs a base model")
    if spec.pairwise:
        if len(parents) != 2:
            raise ValueError(f"{method} merges exactly 2 parents")
        t = float(rng.uniform(cfg.slerp_t_low, cfg.slerp_t_high))
        return MergeRecipe(method=method, parents=tuple(parents), t=round(t, 6), seed=int(rng.integers(2**31 - 1)))
    w = np.abs(rng.normal(cfg.weight_mean, cfg.weight_std, size=len(parents)))
    if cfg.normalize:
        w = w / w.sum() if w.sum() > 0 else np.full(len(parents), 1.0 / len(parents))
    return MergeRecipe(
        method=method,
        parents=tuple(parents),
        weights=tuple(round(float(x), 8) for x in w),
        density=cfg.density if spec.uses_density else None,
        base=base if spec.needs_base else None,
        seed=int(rng.integers(0, 2**31 - 1)),
        normalize=cfg.normalize,
    )


def select_parents(archive_ids: list[str], n_parents: int, rng: np.random.Generator) -> list[str]:
    """``n_parents`` distinct archive members, uniformly at random (ALGORITHM.md step 1).

    Raises:
        ValueError: when the archive has fewer than ``n_parents`` members.
    """
    pool = sorted(archive_ids)
    if len(pool) < n_parents:
        raise ValueError(f"archive has {len(pool)} models, need {n_parents} distinct parents")
    idx = rng.choice(len(pool), size=n_parents, replace=False)
    return [pool[i] for i in idx]


def propose_children(
    archive_ids: list[str],
    n_children: int,
    generation: int,
    crossover: CrossoverSection,
    mutation: MutationSection,
    base: str | None,
    rng: np.random.Generator,
) -> list[ChildRecipe]:
    """The ``n_children`` recipes of one generation: select parents, merge, mutate.

    A child is a mutation-only child of one random member (Gaussian when mutation is off) when
    the archive has fewer members than ``crossover.parents`` (the gibberish filter dropped the
    rest), and otherwise with probability ``1 - crossover.rate`` (no draw is consumed at rate 1).

    Raises:
        ValueError: on an empty archive.
    """
    if not archive_ids:
        raise ValueError("cannot breed from an empty archive")
    out = []
    for i in range(n_children):
        no_merge = crossover.rate == 0.0 or (crossover.rate < 1.0 and rng.random() >= crossover.rate)
        if len(archive_ids) < crossover.parents or no_merge:
            source = select_parents(archive_ids, 1, rng)[0]
            mut = draw_mutation(_forced_mutation(mutation), rng)
            out.append(ChildRecipe(generation=generation, index=i, source=source, mutation=mut))
            continue
        parents = select_parents(archive_ids, crossover.parents, rng)
        merge = draw_merge(parents, crossover, base, rng, draw_method(crossover, rng))
        out.append(ChildRecipe(generation=generation, index=i, merge=merge, mutation=draw_mutation(mutation, rng)))
    return out


def mergekit_config(recipe: MergeRecipe, paths: dict[str, str], dtype: str) -> dict:
    """The mergekit ``MergeConfiguration`` mapping for ``recipe``.

    Args:
        recipe: the merge to perform.
        paths: model id -> local Hugging Face folder, for every parent and the base.
        dtype: output dtype name (``bfloat16``, ``float16``, ``float32``).

    Raises:
        KeyError: when a parent or the base has no path.
    """
    cfg: dict = {"merge_method": recipe.method, "dtype": dtype}
    if MERGE_METHODS[recipe.method].pairwise:
        a, b = recipe.parents
        cfg["base_model"] = paths[a]
        cfg["models"] = [{"model": paths[a]}, {"model": paths[b]}]
        cfg["parameters"] = {"t": recipe.t}
        return cfg
    models = []
    for pid, w in zip(recipe.parents, recipe.weights or ()):
        params: dict = {"weight": w}
        if recipe.density is not None:
            params["density"] = recipe.density
        models.append({"model": paths[pid], "parameters": params})
    cfg["models"] = models
    cfg["parameters"] = {"normalize": recipe.normalize}
    if recipe.base is not None:
        cfg["base_model"] = paths[recipe.base]
    return cfg
