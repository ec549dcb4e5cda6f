"""Blob store for model weights: Hugging Face folders under an fsspec URL.

Keys are relative folder names (``models/<model_id>``).  A folder counts as present only once
its ``_COMPLETE`` marker is written, after every file, and an upload over an existing folder
removes the marker first: a crash mid-upload leaves no half model that looks whole.  Remote
folders are downloaded on demand into a local cache, since merging and loading need local paths;
a remote folder's marker lists the sha256 of each file, and a download that does not match it is
refused.  Credentials for a remote store come only from the environment (for S3:
``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL`` for a non-AWS server),
never from the run's config or database.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import fsspec
from fsspec.implementations.local import LocalFileSystem

_MARKER = "_COMPLETE"


class BlobIntegrityError(OSError):
    """A downloaded file's sha256 differs from the one recorded at upload (a corrupted or
    tampered object): nothing is kept from that download."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 24):
            h.update(chunk)
    return h.hexdigest()


class BlobStore:
    """Folders of files under ``url`` (any fsspec URL; a plain path is a local folder).

    Args:
        url: root of the store, e.g. ``runs/default/blobs`` or ``s3://bucket/acdc``.
        cache_dir: where remote folders are materialised for local use.

    Creates nothing until something is stored: reading a run never adds a folder to it.
    """

    def __init__(self, url: str, cache_dir: str | Path):
        self.fs, self.root = fsspec.core.url_to_fs(url)
        self.is_local = isinstance(self.fs, LocalFileSystem)
        self.cache_dir = Path(cache_dir)

    def _path(self, key: str) -> str:
        return f"{self.root.rstrip('/')}/{key}"

    def uri(self, key: str) -> str:
        """Full URL of ``key`` (``file://`` for the local store)."""
        return self.fs.unstrip_protocol(self._path(key))

    def exists(self, key: str) -> bool:
        marker = f"{self._path(key)}/{_MARKER}"
        if not self.is_local:
            self.fs.invalidate_cache(self._path(key))  # another process may have written it
        return self.fs.exists(marker)

    def put_dir(self, local: str | Path, key: str, move: bool = False) -> str:
        """Store the files of folder ``local`` under ``key``; returns the URI.

        With ``move``, ``local`` no longer exists afterwards (a local store renames it rather
        than copying it).
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
            self.fs.pipe_file(f"{dest}/{_MARKER}", b"")
            return self.uri(key)
        if self.exists(key):
            self.fs.rm_file(f"{dest}/{_MARKER}")  # incomplete from here until the new files are all up
        if self.fs.exists(dest):
            self.fs.rm(dest, recursive=True)
        manifest = {}
        for f in sorted(local.iterdir()):
            manifest[f.name] = _sha256(f)
            self.fs.put_file(str(f), f"{dest}/{f.name}")
        self.fs.pipe_file(f"{dest}/{_MARKER}", json.dumps({"sha256": manifest}, sort_keys=True).encode())
        if move:
            shutil.rmtree(local)
        return self.uri(key)

    def local_dir(self, key: str) -> Path:
        """A local folder holding ``key``'s files (the store itself when local).

        Raises:
            FileNotFoundError: when ``key`` is absent or incomplete.
            BlobIntegrityError: when a downloaded file does not match the sha256 its upload
                recorded; the download is discarded.
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
            try:
                for f in self.fs.ls(self._path(key), detail=False):
                    self.fs.get_file(f, str(tmp / Path(f).name))
                self._verify(key, tmp)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            shutil.rmtree(target, ignore_errors=True)
            os.replace(tmp, target)
        return target

    def _verify(self, key: str, folder: Path) -> None:
        """Check a downloaded ``folder`` against the sha256 manifest in its marker (a folder
        uploaded before manifests existed has an empty marker and is taken as it is)."""
        text = (folder / _MARKER).read_text()
        if not text:
            return
        manifest = json.loads(text)["sha256"]
        got = {f.name for f in folder.iterdir() if f.name != _MARKER}
        if got != set(manifest):
            raise BlobIntegrityError(f"blob {self.uri(key)} holds {sorted(got)}, its upload recorded {sorted(manifest)}")
        for name, want in manifest.items():
            if (have := _sha256(folder / name)) != want:
                raise BlobIntegrityError(
                    f"blob {self.uri(key)}: {name} has sha256 {have[:16]}…, its upload recorded {want[:16]}…; "
                    "the stored object is corrupted (re-upload it, or delete the folder to rebuild it)")


def run_store(run_dir: str | Path, blob_url: str | None = None) -> BlobStore:
    """The blob store of the run in ``run_dir``: ``blob_url`` (the config's ``storage.blob_url``),
    else the run's own ``blobs`` folder; remote folders are cached in the run's ``cache`` folder."""
    run_dir = Path(run_dir)
    return BlobStore(blob_url or str(run_dir / "blobs"), run_dir / "cache")
