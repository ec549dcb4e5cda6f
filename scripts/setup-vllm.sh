#!/usr/bin/env bash
# The vLLM engine's own environment (.venv-vllm), for evaluation.backend: vllm on a CUDA GPU.
# vLLM 0.33 pins torch 2.14 (CUDA), fastapi < 0.137 and transformers < 5.21, which cannot live in
# the run's environment (Prefect 3.9, transformers 5.24); the run talks to the engine over a pipe
# (acdc_core/adapters/backends/engine_worker.py), so only the engine's packages are needed here.
# Usage: bash scripts/setup-vllm.sh [VENV]   (then ACDC_ENGINE_PYTHON=VENV/bin/python if not the default)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-.venv-vllm}
PY=${PYTHON:-python3}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q "vllm==0.33.0"
"$VENV/bin/python" - <<'PY'
import torch, vllm
print(f"[setup-vllm] vllm {vllm.__version__}, torch {torch.__version__}, CUDA GPU: {torch.cuda.is_available()}")
PY
echo "[setup-vllm] done: evaluation.backend: vllm uses $VENV/bin/python" >&2
