#!/usr/bin/env bash
# The test suite: set up (if needed), then run every test, slow ones included.
# The vLLM engine's tests run too: the engine environment is built on the CPU (scripts/setup-vllm.sh
# --cpu; skipped once built, and where .venv-vllm is a GPU build or ACDC_ENGINE_PYTHON names one),
# and ACDC_REQUIRE_ENGINE=1 makes a missing or broken one fail those tests instead of skipping them.
# ACDC_REQUIRE_ENGINE=0 bash scripts/test.sh leaves the engine out (its tests are skipped).
# pytest's exit code 5 ("no tests collected") is a failure here, as it is for CI.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || exit 1
export ACDC_REQUIRE_ENGINE=${ACDC_REQUIRE_ENGINE:-1}
if [ "$ACDC_REQUIRE_ENGINE" != 0 ] && [ -z "${ACDC_ENGINE_PYTHON:-}" ] \
    && [ "$(cat .venv-vllm/.setup-kind 2>/dev/null)" != cuda ]; then
  bash scripts/setup-vllm.sh --cpu || exit 1
fi
"${ACDC_VENV:-.venv}/bin/python" -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then echo "no tests were collected: failing" >&2; exit 1; fi
exit "$rc"
