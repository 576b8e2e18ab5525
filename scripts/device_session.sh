#!/bin/bash
# One call on a lent GPU machine (see README, "GPU check"): the prepared speed check (scripts/gpu_check.py), then
# mini-profile Table 7 and Figure 1 (seed 0) with several worker processes sharing the one GPU. Everything that
# comes back is packed into $OUT/results.tgz (bench JSON, new run records, logs): the device tool returns 8 files.
#   BN_ROBUST_GIT_COMMIT=<sha of the tree sent> CHECK_S=420 RUNS_S=100 bash scripts/device_session.sh
# (the device tool allows 600 s per call: CHECK_S + 40 + RUNS_S + packing must stay under it)
# Unpack the archive into the checkout (tar xzf results.tgz -C <tmp>; copy outputs/runs and bench) before another
# call: a later call on the same warm machine gets this checkout's outputs/ again, and runs whose records are not
# in it are done again (weights stay there, records do not).
# Locally, at toy sizes on the CPU: DEVICE_SMOKE=1 OUT=/tmp/x bash scripts/device_session.sh
set -u
PY=${PYTHON:-python3}
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 MPLBACKEND=Agg
RES=${RES:-/tmp/device_results}; rm -rf "$RES"; mkdir -p "$RES/bench"
touch "$RES/stamp"; sleep 1
if [ "${DEVICE_SMOKE:-0}" = 1 ]; then export GPU_CHECK_SMOKE=1; PROFILE=smoke; DEV=cpu; WORKERS=2; RUNS_OUT=/tmp/device_smoke_out
else PROFILE=mini; DEV=cuda; WORKERS=${WORKERS:-8}; RUNS_OUT=outputs; nvidia-smi -L; fi
echo "commit ${BN_ROBUST_GIT_COMMIT:-unknown}, $(date -u +%FT%TZ)"
OUT=$RES/bench GPU_CHECK_BUDGET_S=${CHECK_S:-420} timeout $(( ${CHECK_S:-420} + 40 )) $PY scripts/gpu_check.py 2>&1 | tee "$RES/gpu_check.log"
echo "gpu_check exit ${PIPESTATUS[0]}"
cat > /tmp/bn_robust_cli.py <<'PY'
import sys
from bn_robust.cli import main
if __name__ == '__main__': main(sys.argv[1:])
PY
T0=$(date +%s)
timeout ${RUNS_S:-100} $PY /tmp/bn_robust_cli.py run table7 fig1 --profile $PROFILE --seeds 0 --out $RUNS_OUT --no-notebook \
    --executor local --workers $WORKERS --device $DEV > "$RES/runs.log" 2>&1
echo "runs exit $? after $(( $(date +%s) - T0 )) s"; tail -5 "$RES/runs.log"
# new records only (never weights or checkpoints): a run that did not finish leaves none
for r in $(find $RUNS_OUT/runs -name record.json -newer "$RES/stamp"); do d=$RES/outputs/runs/$(basename "$(dirname "$r")"); mkdir -p "$d"; cp "$r" "$d/"; done
echo "$(find "$RES/outputs" -name record.json 2>/dev/null | wc -l) new records"
tar czf "${OUT:-/tmp}/results.tgz" -C "$RES" --exclude=stamp .
ls -la "${OUT:-/tmp}/results.tgz"
