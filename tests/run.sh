#!/usr/bin/env bash
# The test command of README.md: notebooks clean and in sync with bn_robust/, library notebooks, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
export PATH="$PWD/$VENV/bin:$PATH"

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

echo "== 2/3 nbdev_test (library notebooks, CPU, without slow/gpu cells), one line per notebook as it finishes"
failed=()
for nb in nbs/*.ipynb; do  # nbs/experiments/ and nbs/reports/ hold .notest: papermill runs those
  t0=$SECONDS
  if log=$(nbdev_test --path "$nb" 2>&1); then echo "  ok    $nb ($((SECONDS - t0)) s)"
  else echo "  FAIL  $nb ($((SECONDS - t0)) s)"; echo "$log" | tail -40; failed+=("$nb"); fi
done
if [ ${#failed[@]} -gt 0 ]; then echo "FAIL: nbdev_test failed on ${failed[*]}"; exit 1; fi

echo "== 3/3 pytest"
python -m pytest -q "$@"
