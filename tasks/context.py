"""The run a step works on: its folder, frozen config, DuckDB file and blob store."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import yaml

from acdc_core.adapters.backends import ModelBackend, load_backend
from acdc_core.adapters.backends.dtype import resolve_dtype
from acdc_core.adapters.backends.pool import ModelPool
from acdc_core.adapters.embedding import EmbedderError
from acdc_core.adapters.finetune import TrainingDiverged
from acdc_core.adapters.sandbox import Sandbox
from acdc_core.adapters.weights import load_weights
from acdc_core.adapters.seeds import SHIPPED, SeedError
from acdc_core.config import (
    SHIPPED_FAMILIES,
    ChatEndpoint,
    ConfigError,
    JudgeSection,
    RunConfig,
    load_config,
    parse_config,
)
from acdc_core.hashing import stable_hash
from acdc_core.judge import Judge
from acdc_core.taskfamily import TaskFamilyError
from storage.blobs import BlobStore, run_store
from storage.db import DB_FILE, RunDB, RunFolderError

CONFIG_FILE = "config.yaml"
RUN_FILE = "run.json"


def cache_dir() -> Path:
    """User-level cache shared by runs (converted shipped seed models): $ACDC_CACHE_DIR or
    ~/.cache/acdc."""
    return Path(os.environ.get("ACDC_CACHE_DIR", Path.home() / ".cache" / "acdc"))


@dataclass
class RunContext:
    run_dir: Path
    run_id: str
    config: RunConfig
    db: RunDB
    blobs: BlobStore

    @classmethod
    def load(cls, run_dir: str | Path) -> "RunContext":
        """Open an initialised run folder.

        Raises:
            FileNotFoundError: when ``run_dir`` holds no initialised run.
            RunFolderError: its ``run.json`` is malformed.
            ConfigError: its ``config.yaml`` is.
        """
        run_dir = Path(run_dir).resolve()
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

    def sandbox(self) -> Sandbox:
        """A sandbox with the run's configured limits, answering ``eval_with_llm_judge`` calls
        through the run's judge when one is configured."""
        s = self.config.sandbox
        return Sandbox(s.limits(), judge=self.judge(), allow_weak_isolation=s.allow_weak_isolation)

    def judge(self, section: JudgeSection | None = None) -> Judge | None:
        """The LLM judge of ``section`` (default: the run's ``judge``), or None when its backend
        is none."""
        section = section or self.config.judge
        if section.backend == "none":
            return None
        return _judge(section)

    def backend(self, model_id: str, **overrides) -> ModelBackend:
        """The stored model ``model_id`` loaded in the run's evaluation backend and settings
        (``overrides``: backend options that differ, e.g. ``dtype``)."""
        e = self.config.evaluation
        return load_backend(e.backend, str(self.model_dir(model_id)), **{**self._backend_options(), **overrides})

    @contextmanager
    def resident_backend(self, model_id: str) -> Iterator[ModelBackend]:
        """The stored model ``model_id`` from this process's pool of resident models (loaded on
        a miss), kept there afterwards within ``evaluation.resident_gb``.  For models that are
        asked again (archive members, seeds); a one-off child uses :meth:`backend`.  With the
        ``vllm`` backend the model is swapped into the process's one engine instead (see
        :meth:`candidate_backend`): a second engine would double the GPU memory, and a swap costs
        less than an engine start."""
        e = self.config.evaluation
        if e.backend == "vllm":  # one engine per process, never one per model: stored models swap in too
            with self.candidate_backend(model_id) as backend:
                backend.load_weights(load_weights(self.model_dir(model_id)))
                yield backend
            return
        path = str(self.model_dir(model_id))
        options = self._backend_options()
        MODEL_POOL.budget_bytes = int(e.resident_gb * 1e9)
        key = (e.backend, path, tuple(sorted(options.items())))
        with MODEL_POOL.session(key, lambda: load_backend(e.backend, path, **options)) as backend:
            yield backend

    @contextmanager
    def candidate_backend(self, template_id: str) -> Iterator[ModelBackend]:
        """A loaded model for candidates built in memory: loaded once per process from the
        stored model ``template_id`` (architecture, tokenizer) and kept, since every candidate
        of a run shares them; the caller swaps each candidate's weights in with
        ``load_weights``.  A session that raises closes it (its weights are not trusted)."""
        e = self.config.evaluation
        folder = self.model_dir(template_id)
        options = self._backend_options()
        key = (e.backend, tuple(sorted(options.items())), _architecture_hash(folder))
        held = _CANDIDATE_MODEL.pop(key, None)
        release_candidate_model()  # another architecture or settings: release it first
        backend = held or load_backend(e.backend, str(folder), **options)
        try:
            yield backend
        except BaseException:
            backend.close()
            raise
        _CANDIDATE_MODEL[key] = backend

    def _backend_options(self) -> dict:
        e = self.config.evaluation
        options = {"device": e.device, "batch_size": e.batch_size, "use_chat_template": e.use_chat_template,
                   "torch_threads": e.torch_threads, "dtype": e.dtype, "share_prefix": e.share_prefix}
        if e.backend == "vllm":
            options.update(engine_python=e.engine_python, gpu_memory_utilization=e.gpu_memory_utilization)
        return options

    def model_dir(self, model_id: str) -> Path:
        """Local folder of a stored model (downloaded first from a remote store)."""
        return self.blobs.local_dir(model_key(model_id))


MODEL_POOL = ModelPool()
"""This process's resident models (see :meth:`RunContext.resident_backend`); a run clears it at its end."""

_CANDIDATE_MODEL: dict[tuple, ModelBackend] = {}
"""The one model this process swaps candidates' weights into (see :meth:`RunContext.candidate_backend`)."""


def release_candidate_model() -> None:
    """Close the model candidates are evaluated in (at a run's end)."""
    while _CANDIDATE_MODEL:
        _CANDIDATE_MODEL.popitem()[1].close()


def _architecture_hash(folder: Path) -> str:
    """Hash of a model folder's config and tokenizer files: what a loaded model keeps when its
    weights are swapped."""
    h = hashlib.sha256()
    for f in sorted(folder.iterdir()):
        if f.is_file() and f.name.endswith((".json", ".model", ".txt", ".jinja")) and "safetensors" not in f.name \
                and not f.name.startswith(("_", "acdc_")):
            h.update(f.name.encode() + f.read_bytes())
    return h.hexdigest()[:16]


@functools.lru_cache(maxsize=4)
def _judge(section: JudgeSection) -> Judge:
    """One judge client per process and config (its HTTP pool or local model is reused)."""
    from acdc_core.adapters.chat import make_chat

    return Judge(make_chat(local_chat(section)))


def local_chat(section: ChatEndpoint) -> ChatEndpoint:
    """``section`` with a shipped family named as its ``hf`` model (``gemma3``) replaced by the
    folder converted from the wheel (once per machine, see :func:`tasks.seeding.shipped_seed_folder`),
    and the family's chat template where the section names none."""
    if getattr(section, "backend", None) != "hf" or section.model not in SHIPPED_FAMILIES:
        return section
    from tasks.seeding import shipped_seed_folder  # tasks.seeding imports this module

    folder = shipped_seed_folder(section.model, "bfloat16", logging.getLogger(__name__))
    return section.model_copy(update={
        "model": folder, "chat_template": section.chat_template or SHIPPED[section.model].chat_template})


def model_key(model_id: str) -> str:
    return f"models/{model_id}"


def run_id_of(run_dir: str | Path) -> str:
    return json.loads((Path(run_dir).resolve() / RUN_FILE).read_text())["run_id"]


def retry_unless_bad_input(_task: Any, _task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry flaky failures (disk, network), never bad input
    (a config, seed checkpoint or task family that will fail the same way again)."""
    try:
        state.result()
    except (ConfigError, SeedError, TaskFamilyError, TrainingDiverged, EmbedderError):
        return False
    except Exception:  # noqa: BLE001 - anything else may pass on a second try
        return True
    return True


def cache_key(step: str, *params: str) -> Callable[[Any, dict], str]:
    """A Prefect ``cache_key_fn``: run id + step name + hash of the named parameters' values."""

    def key_fn(_context: Any, parameters: dict) -> str:
        values = [parameters[p] for p in params]
        return f"acdc-{run_id_of(parameters['run_dir'])}-{step}-{stable_hash(values)}"

    return key_fn


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
