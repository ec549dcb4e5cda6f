"""The blob store on a real S3-compatible server (moto, on loopback) through s3fs: a model folder
round trip, uploads that are complete or absent, downloads checked against the upload's hashes,
and credentials that only the environment holds."""

from __future__ import annotations

import shutil

import pytest
import torch

from acdc_core.adapters.weights import content_hash, load_weights
from acdc_core.config import ConfigError, parse_config
from storage.blobs import BlobIntegrityError, BlobStore


@pytest.fixture
def s3_env(s3_server, monkeypatch):
    for k, v in s3_server["env"].items():
        monkeypatch.setenv(k, v)
    import fsspec

    fsspec.filesystem("s3").clear_instance_cache()  # clients built under other variables
    return s3_server


def _store(s3_env, tmp_path, prefix: str) -> BlobStore:
    return BlobStore(f"s3://{s3_env['bucket']}/{prefix}", tmp_path / "cache")


def test_model_folder_round_trip(s3_env, tmp_path, pico_family):
    store = _store(s3_env, tmp_path, "round-trip")
    src = tmp_path / "src"
    shutil.copytree(pico_family["base"], src)
    assert not store.exists("models/m1")
    uri = store.put_dir(src, "models/m1", move=True)
    assert uri == f"s3://{s3_env['bucket']}/round-trip/models/m1" and not src.exists()
    assert store.exists("models/m1")
    got = store.local_dir("models/m1")
    assert got.is_relative_to(tmp_path / "cache")
    assert content_hash(got) == content_hash(pico_family["base"])
    want = load_weights(pico_family["base"])
    assert all(torch.equal(want[k], v) for k, v in load_weights(got).items())


def test_upload_is_complete_or_absent(s3_env, tmp_path, pico_family, monkeypatch):
    store = _store(s3_env, tmp_path, "atomic")
    src = tmp_path / "src"
    shutil.copytree(pico_family["base"], src)
    real_put, calls = store.fs.put_file, []

    def crash_after_first(lpath, rpath, **kw):
        calls.append(rpath)
        if len(calls) > 1:
            raise ConnectionError("connection reset mid-upload")
        return real_put(lpath, rpath, **kw)

    monkeypatch.setattr(store.fs, "put_file", crash_after_first)
    with pytest.raises(ConnectionError):
        store.put_dir(src, "models/m2")
    assert not store.exists("models/m2")  # one file is up, but the folder does not count
    with pytest.raises(FileNotFoundError, match="missing or incomplete"):
        store.local_dir("models/m2")
    monkeypatch.setattr(store.fs, "put_file", real_put)
    store.put_dir(src, "models/m2")
    assert store.exists("models/m2")
    # replacing a complete folder: a crash half way leaves it absent, never old and new files mixed
    calls.clear()
    monkeypatch.setattr(store.fs, "put_file", crash_after_first)
    with pytest.raises(ConnectionError):
        store.put_dir(src, "models/m2")
    assert not store.exists("models/m2")


def test_download_checks_the_uploaded_hashes(s3_env, tmp_path, pico_family):
    store = _store(s3_env, tmp_path, "corrupt")
    store.put_dir(pico_family["base"], "models/m3")
    weights = f"{store.root}/models/m3/model.safetensors"
    blob = bytearray(store.fs.cat_file(weights))
    blob[-1] ^= 0xFF  # one flipped bit of one weight
    store.fs.pipe_file(weights, bytes(blob))
    with pytest.raises(BlobIntegrityError, match="model.safetensors has sha256"):
        store.local_dir("models/m3")
    assert not any((tmp_path / "cache").rglob("model.safetensors"))  # nothing of it kept
    store.fs.pipe_file(f"{store.root}/models/m3/extra.bin", b"planted")
    with pytest.raises(BlobIntegrityError, match="its upload recorded"):
        store.local_dir("models/m3")


def test_a_config_cannot_carry_credentials(s3_env):
    """(A whole run on S3 keeping the secret out of its folder and database: test_cluster_run.)"""
    with pytest.raises(ConfigError, match="must not carry credentials"):
        parse_config({"storage": {"blob_url": f"s3://key:{s3_env['env']['AWS_SECRET_ACCESS_KEY']}@acdc-runs/x"}})
    with pytest.raises(ConfigError, match="must not carry credentials"):
        parse_config({"storage": {"blob_url": "s3://acdc-runs/x?secret=abc"}})
