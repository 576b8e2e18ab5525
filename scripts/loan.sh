#!/bin/bash
# One loan of a GPU machine in three calls, run back to back while the machine stays warm (docs/gpu.md, "A loan").
#
#   LOAN_COMMIT=<git rev-parse HEAD, pasted> bash scripts/loan.sh 1   # checks, the bench matrix, profiler summary, verdict
#   LOAN_COMMIT=<same>                       bash scripts/loan.sh 2   # the fastest configuration again; evaluation speed
#   LOAN_COMMIT=<same>                       bash scripts/loan.sh 3   # full CIFAR-10 from the packs; Table 1 at the gpu profile
#   LOAN_DRY_RUN=1 LOAN_COMMIT=<40 hex>      bash scripts/loan.sh 1|2|3   # the same steps at smoke size on a CPU
#
# Call N expects .loan/packs/cifar10-pack-N.bin (made here by `python scripts/cifar_packs.py make /work/shared/data
# .loan/packs`, carried by call N; .loan/ is git-ignored, so a warm machine keeps what earlier calls left there).
# Call 1 writes .loan/verdict.json (which compile mode passed graph_equivalence, the fastest configuration, how
# many runs side by side); calls 2 and 3 read it and fall back to compile off, fp32, 4 runs side by side without it.
# Every call writes its log and results under $OUT (at most 8 files, 2 folders deep), each as soon as it exists:
#   call 1: call1.log, bench/<bench name>.json (one per configuration), profile.json, verdict.json
#   call 2: call2.log, bench/<bench name>-run2.json, speed.json
#   call 3: call3.log, records.tgz (outputs/runs/<id>/record.json of every run finished in this call, repacked every
#           20 s while the runs go on), report.tgz (only if papermill is installed there and time is left)
# The device machine has no .git: LOAN_COMMIT is required (the script refuses without it, in one line, exit 2) and is
# exported as BN_ROBUST_GIT_COMMIT, which every record and bench result carries. Nothing here calls git.
#
# Environment (defaults on the device; the dry run's in brackets):
#   LOAN_COMMIT       the 40-hex commit of the tree sent (required)
#   LOAN_BUDGET_S     seconds this call's steps may use: call 1 400, call 2 140, call 3 540 [400, 100, 100]; call 3 also
#                     stops short of the session's end: LOAN_SESSION_S - the machine's uptime - LOAN_MARGIN_S
#   LOAN_SESSION_S    device seconds of the whole session, machine start included [not used in a dry run] (900)
#   LOAN_MARGIN_S     call 3's margin for the machine's start before boot, transfers and give-back (150)
#   LOAN_RUN_S        at most this many seconds for call 3's runs, start-up included (no limit [25])
#   LOAN_STATE        folder kept between calls: packs, verdict, bench results (.loan [$TMPDIR/bn_robust_loan_dry])
#   OUT               where results go: set by the device tool [a new temporary folder, printed]
#   PYTHON            python3 [.venv/bin/python if there]
#   LOAN_DRY_RUN=1    on a CPU: bench --device cpu --width 0.125 --batch-size 16 --concurrent 2; runs at --profile smoke
#                     into LOAN_STATE/outputs (never outputs/); packs: synthetic ones made in LOAN_STATE/packs if missing
#                     (LOAN_DRY_DATA=<folder holding cifar-10-batches-py>: real ones, content-checked when unpacked)
set -u -o pipefail
CALL=${1:-}
case "$CALL" in 1|2|3) ;; *) echo "loan: error: usage: LOAN_COMMIT=<40-hex commit> bash scripts/loan.sh 1|2|3 (LOAN_DRY_RUN=1 on a CPU)" >&2; exit 2;; esac
if ! [[ "${LOAN_COMMIT:-}" =~ ^[0-9a-f]{40}$ ]]; then
    echo "loan: error: LOAN_COMMIT must be the 40-hex commit of the tree sent (git rev-parse HEAD, run where the checkout is), got '$(printf '%s' "${LOAN_COMMIT:-}" | tr -c '[:alnum:]<>_ -' '?' | cut -c1-60)'" >&2
    exit 2
fi
cd "$(dirname "$0")/.." || { echo "loan: error: cannot enter the checkout" >&2; exit 2; }
ROOT=$PWD
DRY=${LOAN_DRY_RUN:-0}
if [ "$DRY" = 1 ]; then
    DEV=cpu; WIDTH=0.125; BATCH=16; CONC_MAX=2; PROFILE=smoke
    STATE=${LOAN_STATE:-${TMPDIR:-/tmp}/bn_robust_loan_dry}
    [ -x "$ROOT/.venv/bin/python" ] && PY=${PYTHON:-$ROOT/.venv/bin/python} || PY=${PYTHON:-python3}
    OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/loan-out.XXXXXX")}
    case $CALL in 1) B=400;; 2) B=100;; 3) B=100;; esac
    LOAN_RUN_S=${LOAN_RUN_S:-25}  # a part of smoke Table 1: the budget stops the rest, as it will on the device
else
    DEV=cuda; WIDTH=1; BATCH=128; CONC_MAX=8; PROFILE=gpu
    STATE=${LOAN_STATE:-$ROOT/.loan}
    PY=${PYTHON:-python3}
    [ -n "${OUT:-}" ] || { echo "loan: error: OUT is not set (the device tool sets it; LOAN_DRY_RUN=1 for a CPU)" >&2; exit 2; }
    command -v nvidia-smi >/dev/null || { echo "loan: error: no nvidia-smi here: not a GPU machine (LOAN_DRY_RUN=1 for a CPU)" >&2; exit 2; }
    case $CALL in 1) B=400;; 2) B=140;; 3) B=540;; esac
fi
BUDGET_S=${LOAN_BUDGET_S:-$B}
mkdir -p "$OUT" "$STATE" || { echo "loan: error: cannot create $OUT or $STATE" >&2; exit 2; }
[ "$(cd "$STATE" && pwd -P)" != "$(pwd -P)" ] || { echo "loan: error: LOAN_STATE must not be the checkout itself" >&2; exit 2; }
export PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 MPLBACKEND=Agg BN_ROBUST_GIT_COMMIT=$LOAN_COMMIT
unset BN_ROBUST_BENCH_DIR BN_ROBUST_COMPILE BN_ROBUST_DEADLINE
T0=$(date +%s)
BENCH_ARGS=(--device "$DEV" --arch resnet18 --width "$WIDTH" --batch-size "$BATCH")
STEPS=$STATE/call$CALL.steps
FAILED=0

elapsed() { echo $(( $(date +%s) - T0 )); }
left() { echo $(( BUDGET_S - $(date +%s) + T0 )); }
say() { echo "[loan $CALL $(printf '%4d' "$(elapsed)") s] $*"; }
BN=("$PY" -c 'import sys; from bn_robust.cli import main; main(sys.argv[1:])')  # the device has no installed package
HELPER=("$PY" "$ROOT/scripts/gpu_check.py")
helper() { "${HELPER[@]}" "$@"; }

# step NAME NEED CAP RESERVE CMD...: run the program CMD under `timeout` if NEED seconds fit what is left after RESERVE,
# for at most CAP seconds (signal STEP_SIGNAL, default TERM, then KILL 15 s later); with STEP_OK2=1 exit status 2 (a
# bench whose equivalence check failed, its JSON saved first) is a result, not a failure
step() {
    local name=$1 need=$2 cap=$3 reserve=$4; shift 4
    local t=$(( $(left) - reserve )); [ "$t" -gt "$cap" ] && t=$cap
    if [ "$t" -lt "$need" ]; then
        say "$name: skipped: $(( $(left) - reserve )) s left of the budget, needs about $need s"
        printf '%s\t\t\tskipped\n' "$name" >> "$STEPS"; return 0
    fi
    say "$name: start (at most $t s)"
    local t1=$(date +%s) rc
    timeout -s "${STEP_SIGNAL:-TERM}" -k 15 "$t" "$@"; rc=$?
    local what=ok
    case $rc in 0) ;; 2) what='check failed (exit 2)'; [ "${STEP_OK2:-0}" = 1 ] || FAILED=1;; 124|137) what="timed out after $t s"; FAILED=1;; *) what="error (exit $rc)"; FAILED=1;; esac
    say "$name: $what in $(( $(date +%s) - t1 )) s"
    printf '%s\t%s\t%s\t%s\n' "$name" "$rc" "$(( $(date +%s) - t1 ))" "$what" >> "$STEPS"
    return 0
}

card() {
    if [ "$DRY" = 1 ]; then say "card: none (dry run on the CPU)"
    else say "nvidia-smi -L:"; nvidia-smi -L || FAILED=1; fi
    helper env --device "$DEV" || { say "torch sees no usable $DEV device"; return 1; }
}

dry_packs() {  # the dry run's stand-in for the packs that calls 1-3 carry
    [ "$DRY" = 1 ] || return 0
    [ -f "$STATE/packs/cifar10-pack-1.bin" ] && [ -f "$STATE/packs/cifar10-pack-2.bin" ] && [ -f "$STATE/packs/cifar10-pack-3.bin" ] && return 0
    if [ -n "${LOAN_DRY_DATA:-}" ]; then "$PY" scripts/cifar_packs.py make "$LOAN_DRY_DATA" "$STATE/packs"
    else helper synth-packs "$STATE/packs"; fi
}

pack_here() {
    local p=$STATE/packs/cifar10-pack-$1.bin
    if [ -f "$p" ]; then say "pack $1: $(ls -l "$p" | awk '{print $5}') bytes in ${p#$ROOT/}"
    else say "pack $1: MISSING (${p#$ROOT/}): call $1 must carry it"; fi
}

# bench NEED CAP RESERVE PRECISION COMPILE SUFFIX EXTRA...: one configuration as a step, saved into STATE/benchN/P-C/,
# then copied into OUT/bench/<bench name>SUFFIX.json
bench() {
    local need=$1 cap=$2 reserve=$3 p=$4 c=$5 suffix=$6; shift 6
    local dir=$STATE/bench$CALL/$p-$c f
    rm -rf "$dir"; mkdir -p "$dir" "$OUT/bench"
    STEP_OK2=1 step "bench $p $c${*:+ $*}" "$need" "$cap" "$reserve" \
        env BN_ROBUST_BENCH_DIR="$dir" "${BN[@]}" bench "${BENCH_ARGS[@]}" --precision "$p" --compile "$c" "$@"
    for f in "$dir"/*.json; do [ -f "$f" ] && cp "$f" "$OUT/bench/$(basename "$f" .json)$suffix.json"; done
    if ! ls "$dir"/*.json >/dev/null 2>&1 && ! tail -1 "$STEPS" | grep -q skipped; then say "bench $p $c: no result saved"; FAILED=1; fi
    return 0
}

call1() {
    rm -rf "$STATE/bench1" "$STATE/verdict.json"; : > "$STEPS"
    [ "$DRY" = 1 ] && rm -rf "$STATE/outputs" "$STATE/cache"  # a dry run starts like a fresh machine: no runs, no data
    dry_packs; pack_here 1
    # NEED: about what a step takes on an H100/H200 (a dry run: 10 s); CAP: the most it may take; RESERVE: kept for later
    local q=$([ "$DRY" = 1 ] && echo 1 || echo 0)
    bench $([ $q = 1 ] && echo 10 || echo 120) 200 40 fp32 cudagraph '' --concurrent "$CONC_MAX" --kernels
    bench $([ $q = 1 ] && echo 10 || echo 45) 110 40 fp32 off ''
    bench $([ $q = 1 ] && echo 10 || echo 70) 150 40 bf16 cudagraph ''
    step "profiler summary" $([ $q = 1 ] && echo 5 || echo 25) 90 30 \
        "${HELPER[@]}" profile --device "$DEV" --width "$WIDTH" --batch-size "$BATCH" --steps $([ $q = 1 ] && echo 1 || echo 3) --out "$OUT/profile.json"
    bench $([ $q = 1 ] && echo 10 || echo 45) 110 20 bf16 off ''
    if [ "$DRY" = 1 ]; then say "nbdev_test --flags gpu: skipped (dry run: the #| gpu cells need CUDA)"
    elif command -v nbdev_test >/dev/null && "$PY" -c 'import nbdev' 2>/dev/null; then
        step "nbdev_test nbs/04_train.ipynb --flags gpu" 60 150 15 nbdev_test --path nbs/04_train.ipynb --flags gpu
    else say "nbdev_test --flags gpu: skipped: nbdev is not installed on this machine (the #| gpu cells stay unmeasured)"
        printf 'nbdev_test\t\t\tskipped: nbdev not installed\n' >> "$STEPS"; fi
    say "verdict:"
    helper verdict "$STATE/bench1" --out "$OUT/verdict.json" --copy "$STATE/verdict.json" --profile "$OUT/profile.json" --steps "$STEPS" \
        || { say "verdict: could not be made (no bench result?)"; FAILED=1; }
}

call2() {
    : > "$STEPS"
    dry_packs; pack_here 2
    local p=fp32 c=off
    if [ -f "$STATE/verdict.json" ]; then
        p=$(helper get "$STATE/verdict.json" fastest_precision fp32); c=$(helper get "$STATE/verdict.json" fastest_compile off)
        say "fastest in call 1: $p $c ($(helper get "$STATE/verdict.json" fastest_pgd10_img_s '?') PGD-10 img/s on $(helper get "$STATE/verdict.json" card '?')); timing it again"
    else say "no verdict from call 1 on this machine (a cold machine?): timing fp32 off"; fi
    bench $([ "$DRY" = 1 ] && echo 10 || echo 45) 150 30 "$p" "$c" -run2
    local again first
    again=$(ls "$STATE/bench2/$p-$c"/*.json 2>/dev/null | head -1); first=$(ls "$STATE/bench1/$p-$c"/*.json 2>/dev/null | head -1)
    if [ -n "$again" ]; then
        step "evaluation speed" 5 90 0 "${HELPER[@]}" evalspeed --device "$DEV" --bench "$again" ${first:+--first "$first"} --out "$OUT/speed.json"
    else say "evaluation speed: skipped: no bench result in this call"; FAILED=1; fi
}

pack_records() {  # every record.json finished in this call, as outputs/runs/<id>/record.json, into OUT/records.tgz
    local list
    list=$(cd "$RUNS_PARENT" && find outputs/runs -name record.json -newer "$STATE/call3.stamp" 2>/dev/null | sort)
    [ -n "$list" ] || return 0
    tar czf "$OUT/.records.tgz.part" -C "$RUNS_PARENT" $list && mv -f "$OUT/.records.tgz.part" "$OUT/records.tgz"
}

call3() {
    : > "$STEPS"
    dry_packs; pack_here 3
    local cache data_ok=1 mode=off n=4 why
    if [ "$DRY" = 1 ]; then cache=$STATE/cache; RUNS_PARENT=$STATE; else cache=$ROOT/.bn_robust_cache; RUNS_PARENT=$ROOT; fi
    local check=(); [ "$DRY" = 1 ] && [ -z "${LOAN_DRY_DATA:-}" ] && check=(--no-content-check)
    step "unpack the packs into ${cache#$ROOT/}" 10 180 60 "$PY" scripts/cifar_packs.py unpack "$STATE/packs" "$cache" "${check[@]}"
    [ -f "$cache/cifar-10-batches-py/test_batch" ] || { data_ok=0; say "full CIFAR-10 is not in ${cache#$ROOT/}: packs missing or unpack failed"; }
    if [ -f "$STATE/verdict.json" ]; then
        mode=$(helper get "$STATE/verdict.json" compile_for_runs off); n=$(helper get "$STATE/verdict.json" concurrent_for_runs 4)
        why=$(helper get "$STATE/verdict.json" why_off '')
        say "verdict of call 1: --compile $mode${why:+ ($why)}, --concurrent $n"
    else say "no verdict from call 1 on this machine (a cold machine?): --compile off, --concurrent 4"; fi
    [ "$n" -gt "$CONC_MAX" ] && n=$CONC_MAX
    # the runs' time: what this call has left, and on the device also what the session has left (uptime ~ time held)
    local run_s=$(( $(left) - 30 )) up s_left
    [ -n "${LOAN_RUN_S:-}" ] && [ "$LOAN_RUN_S" -lt "$run_s" ] && run_s=$LOAN_RUN_S
    if [ "$DRY" != 1 ]; then
        up=$(cut -d. -f1 /proc/uptime 2>/dev/null || echo 0)
        s_left=$(( ${LOAN_SESSION_S:-900} - up - ${LOAN_MARGIN_S:-150} ))
        if [ "$up" -gt 0 ] && [ "$up" -lt 3000 ]; then
            say "machine up ${up} s: about ${s_left} s of the session's ${LOAN_SESSION_S:-900} s are left for runs after a ${LOAN_MARGIN_S:-150} s margin"
            [ "$s_left" -lt "$run_s" ] && run_s=$s_left
        else say "machine uptime ${up} s is no guide to the session's time; using this call's budget alone"; fi
    fi
    touch "$STATE/call3.stamp"; sleep 1
    local args=(run table1 --profile "$PROFILE" --seeds 0 1 2 --device "$DEV" --concurrent "$n" --compile "$mode" --no-notebook)
    if [ "$DRY" = 1 ]; then args+=(--out "$STATE/outputs")
    else args+=(--out outputs --add-to-committed --data-dir "$cache"); export BN_ROBUST_DATA=$cache; fi
    if [ "$data_ok" = 0 ] && [ "$PROFILE" = gpu ]; then say "runs: skipped: no full CIFAR-10 on this machine"; FAILED=1
    elif [ "$run_s" -lt "$([ "$DRY" = 1 ] && echo 15 || echo 60)" ]; then say "runs: skipped: only ${run_s} s left"; printf 'runs\t\t\tskipped\n' >> "$STEPS"
    else
        local minutes packer  # the budget starts after imports and argument checks: about 10 s
        minutes=$(awk -v s="$run_s" 'BEGIN { printf "%.2f", (s - 10) / 60 }')
        ( while sleep 20; do pack_records; done ) & packer=$!
        say "runs: bn-robust ${args[*]} --budget $minutes (records packed into records.tgz every 20 s)"
        STEP_SIGNAL=INT step "runs" 30 $(( run_s + 40 )) -100 "${BN[@]}" "${args[@]}" --budget "$minutes"
        kill "$packer" 2>/dev/null; wait "$packer" 2>/dev/null
    fi
    pack_records
    local got=0; [ -f "$OUT/records.tgz" ] && got=$(tar tzf "$OUT/records.tgz" | wc -l)
    say "$got new records in records.tgz"; [ "$got" -gt 0 ] && tar tzf "$OUT/records.tgz" | sed 's/^/  /'
    if [ "$got" -gt 0 ] && [ "$(left)" -ge 45 ]; then
        if "$PY" -c 'import papermill' 2>/dev/null; then
            step "report" 30 $(( $(left) - 10 )) 10 "${BN[@]}" report --out "$RUNS_PARENT/outputs"
            (cd "$RUNS_PARENT" && ls outputs/reports/*-"$PROFILE"* outputs/reports/paper.ipynb 2>/dev/null) > "$STATE/report.list"
            [ -s "$STATE/report.list" ] && tar czf "$OUT/report.tgz" -C "$RUNS_PARENT" -T "$STATE/report.list" && say "report.tgz: $(wc -l < "$STATE/report.list") files"
        else say "report: skipped: papermill is not installed on this machine (build it where the records are committed)"; fi
    else say "report: skipped ($got new records, $(left) s left)"; fi
}

main() {
    say "call $CALL of the loan: commit $LOAN_COMMIT, $(date -u +%FT%TZ), budget $BUDGET_S s, $([ "$DRY" = 1 ] && echo 'DRY RUN on the CPU, ' )state ${STATE#$ROOT/}, results in $OUT"
    card || return 2
    call$CALL
    local n; n=$(find "$OUT" -type f | wc -l)
    say "call $CALL done in $(elapsed) s; $n files in OUT:"; (cd "$OUT" && find . -type f ! -name "call$CALL.log" | sort | sed 's|^\./|  |')
    [ "$n" -le 8 ] || { say "more than 8 files in OUT: some will not come back"; FAILED=1; }
    [ "$FAILED" = 0 ] || say "some steps failed or timed out (see above); exit 1"
    return $FAILED
}

main 2>&1 | tee "$OUT/call$CALL.log"
exit "${PIPESTATUS[0]}"
