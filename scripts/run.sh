#!/usr/bin/env bash
# The main job: set up (if needed), then start or resume an AC/DC run on the embedded defaults.
# Any arguments are passed to `acdc run` (see `acdc run --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec "${ACDC_VENV:-.venv}/bin/acdc" run "$@"
