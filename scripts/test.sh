#!/usr/bin/env bash
# The test suite: set up (if needed), then run every test, slow ones included.
# pytest's exit code 5 ("no tests collected") is a failure here, as it is for CI.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
"${ACDC_VENV:-.venv}/bin/python" -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then echo "no tests were collected: failing" >&2; exit 1; fi
exit "$rc"
