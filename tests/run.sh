#!/usr/bin/env bash
# The test command of README.md: notebooks clean and in sync with bn_robust/, library notebooks, pytest.
#   bash tests/run.sh           those three (the end-to-end tests marked `long` left out)
#   bash tests/run.sh --long    only the end-to-end tests marked `long` (trainings, SLURM, benches); .ci/run runs both
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
export PATH="$PWD/$VENV/bin:$PATH"

if [ "${1:-}" = --long ]; then
  shift
  echo "== pytest -m long (the end-to-end tests)"
  exec python -m pytest -q -m long "$@"
fi

echo "== 1/3 notebooks clean and bn_robust/ in sync (nbdev_export + nbdev_clean change nothing)"
before=$(git status --porcelain -- nbs bn_robust)
nbdev_export
nbdev_clean
after=$(git status --porcelain -- nbs bn_robust)
if [ "$before" != "$after" ]; then
  echo "FAIL: nbdev_export/nbdev_clean changed files:"; diff <(echo "$before") <(echo "$after") || true
  exit 1
fi
echo "ok"

echo "== 2/3 nbdev_test (library notebooks, CPU, without slow/gpu cells): a line as each notebook starts and ends, timings at the end"
PYTHONUNBUFFERED=1 nbdev_test --do_print --timing

echo "== 3/3 pytest"
python -m pytest -q "$@"
