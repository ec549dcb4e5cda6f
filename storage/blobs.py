"""Blob store for model weights: Hugging Face folders under an fsspec URL.

Keys are relative folder names (``models/<model_id>``).  A folder counts as present only once
its ``_COMPLETE`` marker is written, after every file: a crash mid-upload leaves no half model
that looks whole.  Remote folders are downloaded on demand into a local cache, since merging and
loading need local paths.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import fsspec
from fsspec.implementations.local import LocalFileSystem

_MARKER = "_COMPLETE"


class BlobStore:
    """Folders of files under ``url`` (any fsspec URL; a plain path is a local folder).

    Args:
        url: root of the store, e.g. ``runs/default/blobs`` or ``s3://bucket/acdc``.
        cache_dir: where remote folders are materialised for local use.
    """

    def __init__(self, url: str, cache_dir: str | Path):
        self.fs, self.root = fsspec.core.url_to_fs(url)
        self.is_local = isinstance(self.fs, LocalFileSystem)
        self.cache_dir = Path(cache_dir)
        if self.is_local:
            Path(self.root).mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> str:
        return f"{self.root.rstrip('/')}/{key}"

    def uri(self, key: str) -> str:
        """Full URL of ``key`` (``file://`` for the local store)."""
        return self.fs.unstrip_protocol(self._path(key))

    def exists(self, key: str) -> bool:
        return self.fs.exists(f"{self._path(key)}/{_MARKER}")

    def put_dir(self, local: str | Path, key: str, move: bool = False) -> str:
        """Store the files of folder ``local`` under ``key``; returns the URI.

        With ``move`` and a local store, the folder is renamed rather than copied (same
        filesystem) and ``local`` no longer exists afterwards.
        """
        local = Path(local)
        dest = self._path(key)
        if self.is_local:
            if os.path.exists(dest):
                shutil.rmtree(dest)
            Path(dest).parent.mkdir(parents=True, exist_ok=True)
            if move:
                os.replace(local, dest)
            else:
                shutil.copytree(local, dest)
        else:
            for f in sorted(local.iterdir()):
                self.fs.put_file(str(f), f"{dest}/{f.name}")
        self.fs.pipe_file(f"{dest}/{_MARKER}", b"")
        return self.uri(key)

    def local_dir(self, key: str) -> Path:
        """A local folder holding ``key``'s files (the store itself when local).

        Raises:
            FileNotFoundError: when ``key`` is absent or incomplete.
        """
        if not self.exists(key):
            raise FileNotFoundError(f"blob {self.uri(key)} is missing or incomplete")
        if self.is_local:
            return Path(self._path(key))
        target = self.cache_dir / key
        if not (target / _MARKER).exists():
            tmp = target.with_name(target.name + ".partial")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            for f in self.fs.ls(self._path(key), detail=False):
                self.fs.get_file(f, str(tmp / Path(f).name))
            shutil.rmtree(target, ignore_errors=True)
            os.replace(tmp, target)
        return target


def run_store(run_dir: str | Path, blob_url: str | None = None) -> BlobStore:
    """The blob store of the run in ``run_dir``: ``blob_url`` (the config's ``storage.blob_url``),
    else the run's own ``blobs`` folder; remote folders are cached in the run's ``cache`` folder."""
    run_dir = Path(run_dir)
    return BlobStore(blob_url or str(run_dir / "blobs"), run_dir / "cache")
