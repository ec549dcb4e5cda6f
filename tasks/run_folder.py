"""The run a step works on: its folder, its frozen config, its DuckDB file and blob store; and
how a run folder is made, resumed and chosen a config for."""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import yaml

from acdc_core.adapters.backends.dtype import resolve_dtype
from acdc_core.config import ConfigError, RunConfig, load_config, parse_config
from storage.blobs import BlobStore, run_store
from storage.connection import DB_FILE, RunFolderError
from storage.db import RunDB

__all__ = ["CONFIG_FILE", "DB_FILE", "RUN_FILE", "RunContext", "choose_config", "init_run", "model_key",
           "run_id_of", "update_assessment", "upgrade_schema"]

CONFIG_FILE = "config.yaml"
RUN_FILE = "run.json"


@dataclass(frozen=True)
class RunContext:
    """The handle of one initialised run folder: its id, frozen config, database and blob store.

    Opened through :meth:`load`, which keeps one handle per folder in this process (see there);
    the database and blob handles are connectionless, so a handle can be shared by every step.
    """

    run_dir: Path
    run_id: str
    config: RunConfig
    db: RunDB
    blobs: BlobStore

    @classmethod
    def load(cls, run_dir: str | Path) -> "RunContext":
        """The handle of the initialised run in ``run_dir``: parsed once per process and kept in
        :data:`_OPEN` while the folder's ``run.json`` and ``config.yaml`` stay as they are (a
        resume with a new generations target, or ``acdc assess`` settings, rewrite the config and
        so reopen it).

        Raises:
            FileNotFoundError: when ``run_dir`` holds no initialised run.
            RunFolderError: its ``run.json`` is malformed.
            ConfigError: its ``config.yaml`` is.
        """
        run_dir = Path(run_dir).resolve()
        key = (run_dir, _stamp(run_dir / RUN_FILE), _stamp(run_dir / CONFIG_FILE))
        if (held := _OPEN.get(run_dir)) is not None and held[0] == key:
            return held[1]
        ctx = cls._open(run_dir)
        _OPEN[run_dir] = (key, ctx)
        return ctx

    @classmethod
    def _open(cls, run_dir: Path) -> "RunContext":
        meta = run_dir / RUN_FILE
        if not meta.exists():
            raise FileNotFoundError(f"{run_dir} holds no AC/DC run (no {RUN_FILE})")
        try:
            run_id = json.loads(meta.read_text())["run_id"]
            if not isinstance(run_id, str):
                raise TypeError("run_id is not a string")
        except (ValueError, KeyError, TypeError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            raise RunFolderError(f"{meta} is not a run file ({type(exc).__name__}: {str(exc)[:200]}); it "
                                 "should hold {\"run_id\": \"...\"}: restore it, or start the run in a new folder") from None
        cfg = load_config(run_dir / CONFIG_FILE, check_paths=False)
        return cls(
            run_id=run_id,
            run_dir=run_dir,
            config=cfg,
            db=RunDB(run_dir / DB_FILE),
            blobs=run_store(run_dir, cfg.storage.blob_url),
        )

    @property
    def work_dir(self) -> Path:
        return self.run_dir / "work"

    def model_dir(self, model_id: str) -> Path:
        """Local folder of a stored model (downloaded first from a remote store)."""
        return self.blobs.local_dir(model_key(model_id))


_OPEN: dict[Path, tuple[tuple, RunContext]] = {}
"""This process's open run handles by folder, with the stamp of the files they were read from
(see :meth:`RunContext.load`); owned by this module, kept for the life of the process (a handle
holds no connection and no file)."""


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """(inode, modification time in ns, size) of ``path``, or None when it does not exist."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def upgrade_schema(ctx: RunContext) -> None:
    """Bring the run's database to the current schema: a command that writes to a run after its
    generations (``acdc assess``, ``acdc transfer``) adds the tables a run older than them lacks."""
    RunDB.create(ctx.db.path)


def model_key(model_id: str) -> str:
    return f"models/{model_id}"


def run_id_of(run_dir: str | Path) -> str:
    return json.loads((Path(run_dir).resolve() / RUN_FILE).read_text())["run_id"]


def choose_config(run_dir: str | Path, config_path: str | None, fresh: bool) -> RunConfig:
    """The config a command runs with: ``config_path``; else the stored config of the run in
    ``run_dir`` (unless ``fresh``); else the embedded default preset."""
    if config_path is None and (Path(run_dir) / RUN_FILE).exists() and not fresh:
        return load_config(Path(run_dir) / CONFIG_FILE, check_paths=False)
    return load_config(config_path)


def update_assessment(run_dir: str | Path, changes: dict) -> RunConfig:
    """Merge ``changes`` into the stored run config's ``assessment`` section, validate, and save.

    Raises:
        FileNotFoundError: when ``run_dir`` holds no run.
        ConfigError: when the result is not a valid config (the key is named).
    """
    path = Path(run_dir) / CONFIG_FILE
    if not (Path(run_dir) / RUN_FILE).exists():
        raise FileNotFoundError(f"{run_dir} holds no AC/DC run (no {RUN_FILE})")
    data = yaml.safe_load(path.read_text())
    data["assessment"] = {**data.get("assessment", {}), **changes}
    cfg = parse_config(data, check_paths=False)
    path.write_text(cfg.to_yaml())
    return cfg


def freeze_dtype(config: RunConfig) -> RunConfig:
    """``config`` with ``evaluation.dtype: auto`` resolved for this machine's device, so that a
    run keeps one compute dtype wherever it resumes."""
    e = config.evaluation
    return config.model_copy(update={"evaluation": e.model_copy(update={"dtype": resolve_dtype(e.dtype, e.device)})})


def init_run(run_dir: str | Path, config: RunConfig, fresh: bool = False) -> RunContext:
    """Create the run in ``run_dir``, or reopen it for resumption.

    A resumed run must be given the config it was started with; only ``run.generations`` and
    the ``assessment`` section may change.  This is where the run's DuckDB file is created or
    migrated; everything else only opens it.  ``fresh`` deletes the folder first (weights, DuckDB file, everything).

    Raises:
        ConfigError: when ``config`` differs from the stored run's config (the keys are named).
    """
    run_dir = Path(run_dir).resolve()
    if fresh and run_dir.exists():
        shutil.rmtree(run_dir)
    meta = run_dir / RUN_FILE
    if meta.exists():
        # read through today's schema: a setting added since the run began counts at its default
        stored_config = load_config(run_dir / CONFIG_FILE, check_paths=False)
        if config.evaluation.dtype == "auto":  # the run froze what auto meant when it started
            config = config.model_copy(update={"evaluation": config.evaluation.model_copy(
                update={"dtype": stored_config.evaluation.dtype})})
        stored, new = stored_config.model_dump(mode="json"), config.model_dump(mode="json")
        for cfg in (stored, new):  # neither changes what the run computes
            cfg["run"].pop("generations", None)
            cfg.pop("assessment", None)
        diff = sorted(
            f"{sec}.{k}" for sec in new for k in set(new[sec]) | set(stored.get(sec, {}))
            if new[sec].get(k) != stored.get(sec, {}).get(k)
        )
        if diff:
            raise ConfigError(
                f"{run_dir} holds a run with another config (differs at {', '.join(diff)}); "
                "resume without --config, use --fresh, or pick another --run-dir"
            )
        (run_dir / CONFIG_FILE).write_text(config.to_yaml())  # keeps the new generations target
        RunDB.create(run_dir / DB_FILE)  # a run from an older version gets the newer tables
        return RunContext.load(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    config = freeze_dtype(config)
    (run_dir / CONFIG_FILE).write_text(config.to_yaml())
    run_id = uuid.uuid4().hex[:12]
    RunDB.create(run_dir / DB_FILE).create_run(run_id, config.run.name, config.run.seed, config.to_yaml())
    meta.write_text(json.dumps({"run_id": run_id}))  # last: marks the run as initialised
    return RunContext.load(run_dir)
