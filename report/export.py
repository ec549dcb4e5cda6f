"""``acdc export``: a chosen set of the run's models as Hugging Face model folders, each with a
model card, ready for ``huggingface-cli upload`` or ``HfApi.upload_folder``.

The set is a set of the latest assessment (default: its largest greedy task force), the final
archive when the run was never assessed, or any model ids.  Each folder holds the stored weights,
config and tokenizer, the recipe files the run wrote (``acdc_recipe.json``, ``mergekit_config.yml``)
and a ``README.md`` card: lineage back to the seeds, the recipe, the skill profile over the task
clusters and the benchmark numbers.  Everything is read from the run's DuckDB file (read-only) and
blob store; nothing of the run changes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import yaml

from acdc_core.config import parse_config
from storage.blobs import run_store
from storage.queries import (
    ancestry_frame,
    benchmark_accuracy_frame,
    final_archive_ids,
    latest_sets_frame,
    model_record,
    open_run,
    run_config_yaml,
    run_headline,
    seed_names,
    skill_cluster_frame,
    stored_model_ids,
)

CARD = "README.md"


class ExportError(ValueError):
    """The set or the models asked for cannot be exported (unknown name or id, weights not stored)."""


def choose_models(con, set_name: str | None, model_ids: list[str] | None) -> tuple[str, list[str]]:
    """(label, model ids) of what to export: ``model_ids`` as given; else the assessed set
    ``set_name``; else the latest assessment's largest greedy task force; else the final archive.

    Raises:
        ExportError: an unknown set name or model id, or a run with no generation committed.
    """
    known = set(stored_model_ids(con))
    if model_ids:
        if unknown := sorted(set(model_ids) - known):
            raise ExportError(f"no such models in this run: {unknown}")
        return "models", list(dict.fromkeys(model_ids))
    sets = latest_sets_frame(con)
    if set_name is not None:
        row = sets[sets["set_name"] == set_name] if len(sets) else sets
        if not len(row):
            names = sorted(sets["set_name"]) if len(sets) else []
            raise ExportError(f"no assessed set named {set_name!r}; the latest assessment has {names}")
        return set_name, list(dict.fromkeys(row["members"].iloc[0]))
    forces = sets[sets["kind"] == "task_force_greedy"] if len(sets) else sets
    if len(forces):
        row = forces.sort_values("n").iloc[-1]
        return row["set_name"], list(dict.fromkeys(row["members"]))
    archive = final_archive_ids(con)
    if not archive:
        raise ExportError("no generation committed yet: nothing to export")
    return "final_archive", archive


def model_card(con, model_id: str, label: str, run: dict) -> str:
    """The ``README.md`` of one exported model: YAML metadata, then lineage, recipe, skill profile
    over the task clusters and benchmark numbers (sections say so when the run has none)."""
    operator, generation, recipe, merge_yaml, status = model_record(con, model_id)
    names = seed_names(con)
    meta = {"library_name": "transformers", "tags": ["acdc", "model-merging", "mergekit", "quality-diversity"]}
    lines = ["---", yaml.safe_dump(meta, sort_keys=False).strip(), "---", "",
             f"# {model_id}", "",
             f"A model of the AC/DC run `{run['run_name']}` (run id `{run['run_id']}`), exported as a member of "
             f"`{label}`.  Made in generation {generation} by `{operator}`"
             + (f" ({names[model_id]})" if model_id in names else "")
             + (f"; the archive update {status} it." if status else "."), ""]

    lines += ["## Lineage", "", "Each model, the operator that made it and its parents, back to the seeds:", ""]
    anc = ancestry_frame(con, model_id)
    for (mid, op, gen), rows in anc.groupby(["model_id", "operator", "generation"], sort=False):
        parents = [p for p in rows["parent_id"] if isinstance(p, str)]
        name = f" ({names[mid]})" if mid in names else ""
        lines.append(f"- `{mid}`{name}: generation {gen}, `{op}`"
                     + (f", from {', '.join(f'`{p}`' for p in parents)}" if parents else ""))

    lines += ["", "## Recipe", "", "`acdc_recipe.json` (parents by model id; every random draw is in it, so the "
              "same parents remake these weights bit for bit):", "", "```json",
              json.dumps(json.loads(recipe), indent=1) if recipe else "{}", "```", ""]
    if merge_yaml:
        lines += ["The merge as a mergekit configuration (`mergekit_config.yml`, models by id):", "",
                  "```yaml", merge_yaml.strip(), "```", ""]

    lines += ["## Skill profile over the run's task clusters", ""]
    skills = skill_cluster_frame(con, [model_id])
    if len(skills):
        lines += ["Task families clustered (HDBSCAN on their embeddings) at the run's last clustered generation; "
                  "score: mean over the scored families of the model's mean instance score.", "",
                  "| cluster | label | families | scored | mean score |", "|---|---|---|---|---|"]
        for r in skills.itertuples():
            score = "" if pd.isna(r.score) else f"{r.score:.3f}"
            lines.append(f"| {r.cluster} | {r.label} | {r.n_tasks} | {r.n_scored} | {score} |")
    else:
        lines.append("The run has no task clusters.")

    lines += ["", "## Benchmarks", ""]
    bench = benchmark_accuracy_frame(con, [model_id])
    if len(bench):
        lines += ["Greedy accuracy in `acdc assess` (lm-evaluation-harness, zero-shot):", "",
                  "| benchmark | items | accuracy |", "|---|---|---|"]
        lines += [f"| {r.benchmark} | {r.n_items} | {r.accuracy:.3f} |" for r in bench.itertuples()]
    else:
        lines.append("Not assessed: run `acdc assess` on the run first.")
    return "\n".join(lines) + "\n"


def export_models(run_dir: str | Path, out: str | Path, set_name: str | None = None,
                  model_ids: list[str] | None = None) -> list[Path]:
    """Write the chosen models (see :func:`choose_models`) to ``out/<NN>_<model_id>/``, each a
    complete Hugging Face folder with its model card, and ``out/README.md`` listing the set.

    Returns the model folders, in set order.

    Raises:
        FileNotFoundError: ``run_dir`` holds no run.
        ExportError: see :func:`choose_models`; or a chosen model whose weights are not stored.
    """
    run_dir, out = Path(run_dir), Path(out)
    with open_run(run_dir) as con:
        cfg = parse_config(yaml.safe_load(run_config_yaml(con) or "{}"), check_paths=False)
        store = run_store(run_dir, cfg.storage.blob_url)
        label, ids = choose_models(con, set_name, model_ids)
        if missing := [m for m in ids if not store.exists(f"models/{m}")]:
            raise ExportError(f"weights not stored for {missing}: only seeds and models the archive admitted are")
        run = run_headline(con)
        cards = {m: model_card(con, m, label, run) for m in ids}
    out.mkdir(parents=True, exist_ok=True)
    folders = []
    for i, m in enumerate(ids):
        folder = out / f"{i:02d}_{m}"
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(store.local_dir(f"models/{m}"), folder, ignore=shutil.ignore_patterns("_*"))
        (folder / CARD).write_text(cards[m])
        folders.append(folder)
    (out / CARD).write_text(f"# {label}\n\n{len(ids)} models of the AC/DC run `{run['run_name']}`:\n\n"
                            + "".join(f"- `{f.name}`\n" for f in folders))
    return folders
