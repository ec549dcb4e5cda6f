"""Model weights in memory and in folders: content hashing and mutation.

A model folder is a standard Hugging Face folder (config.json, *.safetensors, tokenizer files).
A model's id is the hash of its tensors (names, dtypes, shapes, bytes), the same whether they
are in memory or in a folder, so equal weights mean equal ids whatever the recipe or file layout.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from acdc_core.hashing import stable_hash
from acdc_core.recipes import MutationRecipe

_SVD_MAX_ELEMENTS = 64_000_000  # above this a matrix gets the Gaussian fallback (memory/time)


StateDict = dict[str, torch.Tensor]


def tensor_hash(weights: StateDict, length: int = 16) -> str:
    """sha256 over the tensors of ``weights`` sorted by name (each name, dtype, shape and raw
    bytes), hex-truncated: a model's id."""
    h = hashlib.sha256()
    for name in sorted(weights):
        _hash_tensor(h, name, weights[name])
    return h.hexdigest()[:length]


def _hash_tensor(h, name: str, t: torch.Tensor) -> None:
    h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
    h.update(t.detach().contiguous().reshape(-1).view(torch.uint8).numpy().data)


def _weight_files(folder: str | Path) -> list[Path]:
    """The folder's ``*.safetensors`` files, sorted by name.

    Raises:
        FileNotFoundError: when there is none.
    """
    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"{folder} holds no .safetensors weights")
    return files


def content_hash(folder: str | Path, length: int = 16) -> str:
    """:func:`tensor_hash` of the folder's weights, read one tensor at a time from its
    ``*.safetensors`` files (shards included).

    Raises:
        FileNotFoundError: when the folder has no safetensors file.
    """
    files = _weight_files(folder)
    h = hashlib.sha256()
    handles = [safe_open(str(f), framework="pt") for f in files]
    where = {name: fh for fh in handles for name in fh.keys()}
    for name in sorted(where):
        _hash_tensor(h, name, where[name].get_tensor(name))
    return h.hexdigest()[:length]


def save_weights_folder(weights: StateDict, template_dir: str | Path, out_dir: str | Path,
                        skip: tuple[str, ...] = ()) -> Path:
    """A loadable Hugging Face folder at ``out_dir``: the template's config and tokenizer files
    (neither its weights, nor ``_``-prefixed markers, nor names ending in ``skip``) and
    ``weights`` as ``model.safetensors``.  Returns ``out_dir``."""
    template_dir, out_dir = Path(template_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for f in template_dir.iterdir():
        if f.is_file() and not f.name.startswith("_") and not f.name.endswith(
                (".safetensors", ".safetensors.index.json", *skip)):
            shutil.copy2(f, out_dir / f.name)
    save_file({k: v.contiguous() for k, v in weights.items()}, str(out_dir / "model.safetensors"),
              metadata={"format": "pt"})
    return out_dir


def load_weights(folder: str | Path) -> StateDict:
    """Every tensor of the folder's ``*.safetensors`` files, by name.

    Raises:
        FileNotFoundError: when the folder has no safetensors file.
    """
    files = _weight_files(folder)
    return {name: t for f in files for name, t in load_file(str(f)).items()}


def is_mutable(name: str, tensor: torch.Tensor) -> bool:
    """2-D weight matrices only: not norms, not biases (ALGORITHM.md step 3)."""
    return tensor.ndim == 2 and "norm" not in name and not name.endswith("bias")


def _tensor_generator(recipe: MutationRecipe, name: str) -> torch.Generator:
    return torch.Generator().manual_seed(int(stable_hash([recipe.seed, name], 15), 16))


def mutate_tensor(name: str, w: torch.Tensor, recipe: MutationRecipe) -> torch.Tensor:
    """The mutated copy of one weight matrix, deterministic in (recipe.seed, name).

    ``svd``: W = U S V^T; the top-k singular values get N(0, noise_std) noise, clamped at 0
    (see ``_svd_noise_delta``).
    ``gaussian``: W + N(0, noise_std * std(W)) per element.  Computed in float32, returned in
    ``w``'s dtype.
    """
    g = _tensor_generator(recipe, name)
    x = w.to(torch.float32)
    if recipe.method == "svd" and x.numel() <= _SVD_MAX_ELEMENTS:
        x = x + _svd_noise_delta(x, recipe.top_k, recipe.noise_std, g)
    else:
        x = x + torch.randn(x.shape, generator=g) * (recipe.noise_std * x.std())
    return x.to(w.dtype)


def _svd_noise_delta(x: torch.Tensor, top_k: int | None, std: float, g: torch.Generator) -> torch.Tensor:
    """:func:`svd_update` of ``x`` (m, n) for noise N(0, std) on its top-k singular values
    (all of them when ``top_k`` is None), drawn from ``g``."""
    k = min(top_k or min(x.shape), min(x.shape))
    return svd_update(x, torch.randn(k, generator=g) * std)


def svd_update(x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """U_k diag(delta) V_k^T for delta = max(s_k + noise, 0) - s_k over the top k = len(noise)
    singular triplets of ``x`` (m, n), float32.

    The singular vectors come from the eigendecomposition of the smaller Gram matrix
    (x^T x or x x^T), ~3x faster on CPU than a full SVD (``bench/bench_svd_mutation.py``); with
    U_k = x V_k / s_k the update is x V_k diag(delta / s_k) V_k^T.  Singular values below
    1e-6 * s_max have no well-defined direction and are left as they are.
    """
    tall = x.shape[0] >= x.shape[1]
    lam, vecs = torch.linalg.eigh(x.T @ x if tall else x @ x.T)  # ascending
    s = lam.flip(0).clamp(min=0).sqrt()
    vecs = vecs.flip(1)
    k = len(noise)
    delta = torch.clamp(s[:k] + noise, min=0.0) - s[:k]
    ok = s[:k] > s[0] * 1e-6
    scale = torch.where(ok, delta / torch.where(ok, s[:k], torch.ones_like(s[:k])), torch.zeros_like(delta))
    vk = vecs[:, :k]
    if tall:
        return ((x @ vk) * scale) @ vk.T
    return vk @ (scale[:, None] * (vk.T @ x))


@contextmanager
def _one_thread_per_op() -> Iterator[int]:
    """torch ops on one thread each inside the block; yields the thread count it had (restored after)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield threads
    finally:
        torch.set_num_threads(threads)


def mutate_weights(weights: StateDict, recipe: MutationRecipe) -> StateDict:
    """The mutated copy of ``weights``: every :func:`is_mutable` matrix through
    :func:`mutate_tensor`, the rest shared with the input.

    Each matrix is computed on one thread, as many at once as torch had threads: the Gram-eigh
    SVD of a 576-wide matrix uses two threads poorly (SmolLM2-135M: 5.4 s on 2 threads one
    matrix at a time, 3.8 s two at a time, ``bench/bench_svd_mutation.py``), and the result no
    longer depends on the thread count, so a recipe remakes the same child on any machine whose
    torch computes the same.

    Raises:
        ValueError: when a mutated tensor is not finite.
    """
    names = [name for name, t in weights.items() if is_mutable(name, t)]
    with _one_thread_per_op() as workers, ThreadPoolExecutor(max_workers=workers) as pool:
        mutated = dict(zip(names, pool.map(lambda name: mutate_tensor(name, weights[name], recipe), names)))
    for name, t in mutated.items():
        if not torch.isfinite(t).all():
            raise ValueError(f"mutation produced non-finite values in {name}")
    return {**weights, **mutated}


def mutate_folder(src: str | Path, dst: str | Path, recipe: MutationRecipe) -> None:
    """Write the mutated copy of model folder ``src`` into ``dst`` (non-weight files copied).

    Raises:
        FileNotFoundError: when ``src`` has no safetensors weights.
        ValueError: when a mutated tensor is not finite.
    """
    src, dst = Path(src), Path(dst)
    weight_files = _weight_files(src)
    dst.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        if f.is_file() and f.suffix != ".safetensors" and not f.name.startswith("_"):
            shutil.copy2(f, dst / f.name)
    for f in weight_files:
        save_file(mutate_weights(load_file(str(f)), recipe), str(dst / f.name), metadata={"format": "pt"})
