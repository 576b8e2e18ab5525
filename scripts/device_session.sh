#!/bin/bash
# One call on a lent GPU machine, sized by the device time it may use (docs/gpu.md):
#   1. the GPU checks (scripts/gpu_check.py: equivalence, benches, a short real training), within CHECK_S seconds;
#   2. the next missing runs of EXPERIMENTS at PROFILE (default: table1 at the `gpu` profile, seeds 0 1 2) through
#      `bn-robust run --budget`: a run starts only if it fits, a started one stops cleanly between epochs;
#   3. the new records (never weights or checkpoints), the bench JSON and the logs packed into $OUT/results.tgz.
# The next call goes on where this one stopped: runs are cached by record, so the tree sent must hold the gpu-profile
# records committed from earlier calls (unpack results.tgz into the checkout and commit outputs/runs, outputs/bench).
# On a warm machine a stopped run's checkpoint (outputs/runs/<id>/ckpt.pt, ignored) is still there and resumes; on a
# fresh machine it restarts from its first epoch.
#
#   BN_ROBUST_GIT_COMMIT=$(git rev-parse HEAD) MINUTES=9.5 bash scripts/device_session.sh
#
# Environment (defaults in brackets):
#   MINUTES [9.5]      device time this call may use, checks, runs and packing together (the tool allows 600 s a call)
#   CHECK_S [240]      seconds for the GPU checks; 0 skips them (e.g. on the second call of a loan)
#   EXPERIMENTS [table1]  SEEDS [0 1 2]  PROFILE [gpu]
#   WORKERS [1]        >1: that many worker processes share the GPU, under CUDA MPS when nvidia-cuda-mps-control exists
#   BN_ROBUST_GIT_COMMIT  the commit of the tree sent (the copy has no .git): required, every record carries it
#   DRY_RUN=1          on a CPU: prints the plan, runs the checks and the runs at smoke size into /tmp (DEVICE_SMOKE=1 too)
# Full CIFAR-10 must be in .bn_robust_cache/cifar-10-batches-py of the checkout for the gpu/paper profiles: it travels
# one file per call (docs/gpu.md, "Full CIFAR-10 on the device machine"); without it the runs are skipped.
set -u
PY=${PYTHON:-python3}
cd "$(dirname "$0")/.."
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 MPLBACKEND=Agg
T0=$(date +%s)
DRY=${DRY_RUN:-${DEVICE_SMOKE:-0}}
MINUTES=${MINUTES:-9.5}; CHECK_S=${CHECK_S:-240}; EXPERIMENTS=${EXPERIMENTS:-table1}; SEEDS=${SEEDS:-0 1 2}; WORKERS=${WORKERS:-1}
RES=${RES:-/tmp/device_results}; rm -rf "$RES"; mkdir -p "$RES/bench"
touch "$RES/stamp"; sleep 1
if [ "$DRY" = 1 ]; then
    export GPU_CHECK_SMOKE=1; PROFILE=smoke; DEV=cpu; RUNS_OUT=${RUNS_OUT:-/tmp/device_dry_out}
    [ "$CHECK_S" -gt 120 ] && CHECK_S=120
else
    PROFILE=${PROFILE:-gpu}; DEV=cuda; RUNS_OUT=outputs
    if [ -z "${BN_ROBUST_GIT_COMMIT:-}" ]; then
        echo "device_session: set BN_ROBUST_GIT_COMMIT to the commit of the tree sent (records must carry it)" >&2; exit 2; fi
    nvidia-smi -L || { echo "device_session: no GPU here (DRY_RUN=1 for a CPU)" >&2; exit 2; }
fi
TOTAL_S=$($PY -c "print(int(float('$MINUTES')*60))")
elapsed() { echo $(( $(date +%s) - T0 )); }
echo "device session: commit ${BN_ROBUST_GIT_COMMIT:-$($PY -c 'from bn_robust.runs import git_commit; print(git_commit())')}, $(date -u +%FT%TZ), ${TOTAL_S} s: checks ${CHECK_S} s, then $EXPERIMENTS [$PROFILE] seeds $SEEDS, $WORKERS worker(s)"

# the full data set, staged into the checkout's ignored cache (docs/gpu.md)
DATA_OK=1
if [ "$PROFILE" = gpu ] || [ "$PROFILE" = paper ]; then
    export BN_ROBUST_CACHE=$PWD/.bn_robust_cache
    for f in data_batch_1 data_batch_2 data_batch_3 data_batch_4 data_batch_5 test_batch batches.meta; do
        [ -f "$BN_ROBUST_CACHE/cifar-10-batches-py/$f" ] || { echo "missing $BN_ROBUST_CACHE/cifar-10-batches-py/$f"; DATA_OK=0; }
    done
fi

# 1. GPU checks
if [ "$CHECK_S" -gt 0 ]; then
    OUT=$RES/bench GPU_CHECK_BUDGET_S=$CHECK_S timeout $(( CHECK_S + 40 )) $PY scripts/gpu_check.py 2>&1 | tee "$RES/gpu_check.log"
    echo "gpu_check exit ${PIPESTATUS[0]} after $(elapsed) s"
fi

# 2. the next missing runs, within what is left (30 s kept for packing)
cat > /tmp/bn_robust_cli.py <<'PY'
import sys
from bn_robust.cli import main
if __name__ == '__main__': main(sys.argv[1:])
PY
RUN_ARGS="run $EXPERIMENTS --profile $PROFILE --seeds $SEEDS --out $RUNS_OUT --no-notebook --device $DEV"
[ "$WORKERS" -gt 1 ] && RUN_ARGS="$RUN_ARGS --executor local --workers $WORKERS"
echo "plan:"; $PY /tmp/bn_robust_cli.py $RUN_ARGS --dry-run 2>&1 | tee "$RES/plan.log"
RUNS_S=$(( TOTAL_S - $(elapsed) - 30 ))
MPS=0
if [ "$DATA_OK" = 0 ]; then echo "runs skipped: full CIFAR-10 is not staged on this machine"
elif [ "$RUNS_S" -lt 30 ]; then echo "runs skipped: ${RUNS_S} s left"
else
    if [ "$WORKERS" -gt 1 ] && [ "$DEV" = cuda ] && command -v nvidia-cuda-mps-control >/dev/null; then
        export CUDA_MPS_PIPE_DIRECTORY=/tmp/mps-pipe CUDA_MPS_LOG_DIRECTORY=/tmp/mps-log
        mkdir -p $CUDA_MPS_PIPE_DIRECTORY $CUDA_MPS_LOG_DIRECTORY
        nvidia-cuda-mps-control -d && MPS=1 && echo "CUDA MPS started for $WORKERS workers"
    fi
    BUDGET=$($PY -c "print(round($RUNS_S/60, 3))")
    echo "runs: budget $BUDGET min"
    timeout $(( RUNS_S + 20 )) $PY /tmp/bn_robust_cli.py $RUN_ARGS --budget $BUDGET > "$RES/runs.log" 2>&1
    echo "runs exit $? after $(elapsed) s"; grep -v 'it/s\|s/it' "$RES/runs.log" | tr '\r' '\n' | grep -E '^ *(ran|resumed|stopped|deferred|cached|failed)|runs done|budget' | tail -40
    [ "$MPS" = 1 ] && { echo quit | nvidia-cuda-mps-control; echo "CUDA MPS stopped"; }
fi

# 3. new records only (never weights or checkpoints): a run that did not finish leaves none
for r in $(find $RUNS_OUT/runs -name record.json -newer "$RES/stamp" 2>/dev/null); do
    d=$RES/outputs/runs/$(basename "$(dirname "$r")"); mkdir -p "$d"; cp "$r" "$d/"; done
echo "$(find "$RES/outputs" -name record.json 2>/dev/null | wc -l) new records; $(elapsed) s of ${TOTAL_S} s used"
mkdir -p "${OUT:-/tmp}"
tar czf "${OUT:-/tmp}/results.tgz" -C "$RES" --exclude=stamp .
ls -la "${OUT:-/tmp}/results.tgz"
