#!/usr/bin/env bash
# A real one-node SLURM on this machine, for the tests and for trying `bn-robust run --executor slurm`.
#
#   scripts/slurm-local.sh start    install what is missing (Debian/Ubuntu, as root), write a one-node slurm.conf,
#                                   start munged, slurmctld and slurmd, wait until the node is idle
#   scripts/slurm-local.sh stop     stop exactly the daemons `start` started (by their pid files)
#   scripts/slurm-local.sh status   sinfo and squeue of that cluster
#   scripts/slurm-local.sh env      the line to paste into a shell: export SLURM_CONF=...
#
# Everything lives in one folder, $BN_ROBUST_SLURM_DIR (default .slurm/ in the repository, git-ignored):
# slurm.conf, the munge key and socket, controller state, slurmd spool, daemon logs and pid files.
# Nothing under /etc is read or written; clients find this cluster through SLURM_CONF (`env` prints it).
# Ports: $BN_ROBUST_SLURM_PORT (controller, default 6817) and the next one (slurmd).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${BN_ROBUST_SLURM_DIR:-$ROOT/.slurm}"
PORT="${BN_ROBUST_SLURM_PORT:-6817}"
CONF="$DIR/slurm.conf"
export SLURM_CONF="$CONF"
say() { echo "slurm-local: $*" >&2; }

install_missing() {
  local need=()
  command -v munged >/dev/null || need+=(munge)
  command -v slurmctld >/dev/null || need+=(slurmctld)
  command -v slurmd >/dev/null || need+=(slurmd)
  command -v sbatch >/dev/null || need+=(slurm-client)
  [ ${#need[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null || { say "missing ${need[*]} and no apt-get here: install SLURM and munge yourself"; exit 1; }
  [ "$(id -u)" -eq 0 ] || { say "missing ${need[*]}: run as root to install them (apt-get)"; exit 1; }
  say "installing ${need[*]} (apt-get)"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

write_conf() {
  local node; node="$(slurmd -C | head -1)"   # NodeName=<short hostname> CPUs=... RealMemory=... as slurmd sees them
  cat > "$CONF" <<EOF
# written by scripts/slurm-local.sh: one node, one default partition, everything under $DIR
ClusterName=bnrobust
SlurmctldHost=$(hostname -s)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=$(id -un)
SlurmdUser=$(id -un)
AuthType=auth/munge
CredType=cred/munge
# a requeued job may start again after cred_expire + 1 s (default 120 s): short here, for the tests
AuthInfo=socket=$DIR/munge/munge.socket.2,cred_expire=10
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# finished jobs stay visible to scontrol/squeue for an hour (there is no accounting database for sacct)
MinJobAge=3600
SchedulerParameters=sched_interval=2,bf_interval=2
$node State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

start() {
  install_missing
  mkdir -p "$DIR"/{munge,state,spool,log}
  chmod 700 "$DIR/munge"
  if alive "$DIR/slurmctld.pid" || alive "$DIR/slurmd.pid" || alive "$DIR/munged.pid"; then
    say "already running from $DIR (scripts/slurm-local.sh stop first)"; exit 1
  fi
  rm -rf "$DIR/state" "$DIR/spool"; mkdir -p "$DIR/state" "$DIR/spool"   # a fresh cluster: no jobs of an earlier start
  write_conf
  [ -f "$DIR/munge/munge.key" ] || { dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none; chmod 600 "$DIR/munge/munge.key"; }
  munged --force --key-file="$DIR/munge/munge.key" --socket="$DIR/munge/munge.socket.2" --pid-file="$DIR/munged.pid" \
         --log-file="$DIR/log/munged.log" --seed-file="$DIR/munge/munged.seed"
  slurmctld -f "$CONF"   # daemonizes; writes its pid file
  slurmd -f "$CONF"
  for _ in $(seq 1 60); do
    state="$(sinfo -h -o %T 2>/dev/null | head -1 || true)"
    if [ "$state" = idle ]; then
      say "node $(hostname -s) idle ($(sinfo -h -o '%c CPUs, %m MB, partition %P')); logs in $DIR/log"
      say "clients need: export SLURM_CONF=$CONF"
      return 0
    fi
    sleep 1
  done
  say "the node did not become idle in 60 s (state: ${state:-no answer}); see $DIR/log/"
  tail -5 "$DIR/log/slurmctld.log" "$DIR/log/slurmd.log" >&2 || true
  stop; exit 1
}

stop() {
  local f pid
  if alive "$DIR/slurmctld.pid"; then   # jobs still queued or running on this cluster end with it
    scancel -u "$(id -un)" 2>/dev/null || true
    for _ in $(seq 1 20); do [ -z "$(squeue -h -t RUNNING,COMPLETING,PENDING 2>/dev/null)" ] && break; sleep 0.5; done
  fi
  for f in slurmd slurmctld munged; do   # reverse order of start
    [ -f "$DIR/$f.pid" ] || continue
    pid="$(cat "$DIR/$f.pid")"
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid"
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -0 "$pid" 2>/dev/null && { say "$f ($pid) still alive after 10 s: SIGKILL"; kill -9 "$pid" || true; }
      say "stopped $f ($pid)"
    fi
    rm -f "$DIR/$f.pid"
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) sinfo; squeue ;;
  env) echo "export SLURM_CONF=$CONF" ;;
  *) echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
