#!/usr/bin/env bash
# slurm.sh -- a real Slurm cluster for the tests, private to one directory, on loopback.
#
#   scripts/slurm.sh start DIR [NODES]   start munged, slurmctld and NODES slurmd daemons (default
#                                        1), each emulating one node n1..nNODES of this host;
#                                        write DIR/env; print it
#   scripts/slurm.sh stop DIR            stop all of them
#   scripts/slurm.sh env DIR             print DIR/env if the cluster answers, else exit 1
#
# DIR/env holds shell- and dotenv-compatible lines:
#   SLURM_CONF=/abs/DIR/slurm.conf       (what every Slurm command and daemon reads)
#   GP2BM_TEST_SLURM_NODES=NODES
#   GP2BM_TEST_SLURM_PARTITION=gp2bm
#
# Exit status: 0 done; 1 failed; 2 usage; 3 this machine cannot run it (not root, packages not
# installable).
#
# Every node is "NodeName=nK NodeHostname=localhost" with its own slurmd (`slurmd -N nK`) on
# its own port, spool, pid and log file: K emulated nodes of identical hardware on one host.
# munged runs with its own key and socket under DIR; slurmctld and slurmd listen on free
# loopback ports. No cgroups (proctrack/linuxproc, task/none) and no accounting, as in
# ../shared/services/recipe_slurm.sh. Needs root; slurm-wlm and munge are installed from
# Debian when missing ("apt-get update" only then), with their init scripts kept from starting
# the system-wide daemons. "start" on a running cluster with the same node count only
# re-checks it; with another node count it restarts it.
set -euo pipefail

READY_TIMEOUT_S=${GP2BM_SLURM_TIMEOUT:-60}
STOP_TIMEOUT_S=30
PARTITION=gp2bm

die() { echo "slurm.sh: $*" >&2; exit 1; }
unavailable() { echo "slurm.sh: $*" >&2; exit 3; }
log() { echo "slurm.sh: $*" >&2; }
source "$(dirname "${BASH_SOURCE[0]}")/daemon_lib.sh"
usage() { echo "usage: $0 {start|stop|env} DIR [NODES]" >&2; exit 2; }

[ $# -ge 2 ] && [ $# -le 3 ] && [ -n "$2" ] || usage
ACTION=$1
NODES=${3:-}
mkdir -p "$2"
DIR=$(cd "$2" && pwd -P)

CONF=$DIR/slurm.conf
ENV_FILE=$DIR/env
MUNGE_SOCKET=$DIR/munge/munge.socket
MUNGE_PID=$DIR/munge/munged.pid
CTLD_PID=$DIR/slurmctld.pid

need_root() { [ "$(id -u)" = 0 ] || unavailable "must run as root (slurmd runs jobs as any user)"; }

ensure_packages() {
    local missing=()
    command -v slurmctld >/dev/null || missing+=(slurm-wlm)
    command -v munged >/dev/null || missing+=(munge)
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null || unavailable "missing ${missing[*]} and no apt-get to install them"
    log "installing ${missing[*]}"
    local policy=/usr/sbin/policy-rc.d own_policy=
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && own_policy=1
    fi
    local rc=0
    apt-get update -qq >&2 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            slurm-wlm munge >&2 || rc=$?
    [ -z "$own_policy" ] || rm -f "$policy"
    [ $rc -eq 0 ] || unavailable "apt-get install slurm-wlm munge failed (exit $rc)"
}

free_ports() {  # free_ports N: N distinct free TCP ports on 127.0.0.1, one per line
    python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
EOF
}




slurmd_pidfiles() { find "$DIR" -maxdepth 1 -name 'slurmd-*.pid' 2>/dev/null || true; }

configured_nodes() { [ -s "$DIR/nodes" ] && cat "$DIR/nodes" || echo 0; }

# start: NODES given, else 1; env and stop: whatever DIR was started with
[ -n "$NODES" ] || { [ "$ACTION" = start ] && NODES=1 || NODES=$(configured_nodes); }
[[ $NODES =~ ^[0-9]+$ ]] && [ "$NODES" -le 64 ] || usage
[ "$ACTION" != start ] || [ "$NODES" -ge 1 ] || usage

idle_nodes() {
    SLURM_CONF=$CONF timeout 10 sinfo --noheader --partition "$PARTITION" --Node \
        --format '%N %T' 2>/dev/null | awk '$2 == "idle" || $2 == "mixed" || $2 == "allocated" \
        || $2 == "completing" {n++} END {print n + 0}'
}

running() {
    [ -s "$CONF" ] && alive "$MUNGE_PID" && alive "$CTLD_PID" || return 1
    [ "$(configured_nodes)" = "$NODES" ] || return 1
    [ "$(idle_nodes)" = "$NODES" ]
}

start_munge() {
    mkdir -p "$DIR/munge"
    chmod 0700 "$DIR/munge"
    if [ ! -s "$DIR/munge/munge.key" ]; then
        mungekey --create --keyfile "$DIR/munge/munge.key" >/dev/null
        chmod 0400 "$DIR/munge/munge.key"
    fi
    rm -f "$MUNGE_SOCKET" "$MUNGE_SOCKET.lock"
    # --force: munged as root, with its files in a root-only directory, is private to DIR.
    munged --force --socket "$MUNGE_SOCKET" --key-file "$DIR/munge/munge.key" \
        --pid-file "$MUNGE_PID" --log-file "$DIR/munge/munged.log" \
        --seed-file "$DIR/munge/munged.seed" >/dev/null 2>&1 || {
        tail -n 20 "$DIR/munge/munged.log" >&2 || true
        return 1
    }
}

write_conf() {
    local ports host cpus mem i
    mapfile -t ports < <(free_ports $((NODES + 1)))
    host=$(hostname -s)
    cpus=$(nproc)
    mem=$(awk '/^MemTotal:/ {print int($2 / 1024 / 2)}' /proc/meminfo)
    mkdir -p "$DIR/state" "$DIR/log"
    for i in $(seq 1 "$NODES"); do mkdir -p "$DIR/spool/n$i"; done
    {
        echo "# written by scripts/slurm.sh: $NODES emulated node(s) of this host"
        echo "ClusterName=gp2bm"
        echo "SlurmctldHost=${host}(127.0.0.1)"
        echo "SlurmctldPort=${ports[0]}"
        echo "SlurmUser=root"
        echo "SlurmdUser=root"
        echo "AuthType=auth/munge"
        echo "AuthInfo=socket=$MUNGE_SOCKET"
        echo "CredType=cred/munge"
        echo "StateSaveLocation=$DIR/state"
        # %n: each emulated node's slurmd gets its own spool, pid and log
        echo "SlurmdSpoolDir=$DIR/spool/%n"
        echo "SlurmctldPidFile=$CTLD_PID"
        echo "SlurmdPidFile=$DIR/slurmd-%n.pid"
        echo "SlurmctldLogFile=$DIR/log/slurmctld.log"
        echo "SlurmdLogFile=$DIR/log/slurmd-%n.log"
        echo "ProctrackType=proctrack/linuxproc"
        echo "TaskPlugin=task/none"
        echo "JobAcctGatherType=jobacct_gather/none"
        echo "AccountingStorageType=accounting_storage/none"
        echo "JobCompType=jobcomp/none"
        echo "SchedulerType=sched/backfill"
        # schedule at once on submit and on job end (no batching delay)
        echo "SchedulerParameters=batch_sched_delay=0,sched_min_interval=100000"
        echo "SelectType=select/cons_tres"
        echo "SelectTypeParameters=CR_Core"
        echo "MpiDefault=none"
        echo "ReturnToService=2"
        echo "SlurmdTimeout=60"
        echo "InactiveLimit=0"
        echo "MinJobAge=600"
        echo "KillWait=5"
        echo "Waittime=0"
        for i in $(seq 1 "$NODES"); do
            echo "NodeName=n$i NodeHostname=localhost NodeAddr=127.0.0.1 Port=${ports[$i]} CPUs=$cpus RealMemory=$mem State=UNKNOWN"
        done
        echo "PartitionName=$PARTITION Nodes=n[1-$NODES] Default=YES MaxTime=INFINITE State=UP OverSubscribe=EXCLUSIVE"
    } >"$CONF.tmp"
    mv "$CONF.tmp" "$CONF"
    echo "$NODES" >"$DIR/nodes"
}

start_slurm() {
    local i
    SLURM_CONF=$CONF slurmctld -f "$CONF" -i || return 1
    for i in $(seq 1 "$NODES"); do
        SLURM_CONF=$CONF slurmd -f "$CONF" -N "n$i" || return 1
    done
}

wait_ready() {
    local deadline=$((SECONDS + READY_TIMEOUT_S))
    until [ "$(idle_nodes)" = "$NODES" ]; do
        if [ $SECONDS -ge $deadline ]; then
            SLURM_CONF=$CONF sinfo >&2 || true
            tail -n 20 "$DIR/log/slurmctld.log" >&2 || true
            log "cluster not ready after ${READY_TIMEOUT_S}s (logs in $DIR/log)"
            return 1
        fi
        alive "$CTLD_PID" || { tail -n 20 "$DIR/log/slurmctld.log" >&2; log "slurmctld exited"; return 1; }
        sleep 0.2
    done
}

write_env() {
    {
        echo "SLURM_CONF=$CONF"
        echo "GP2BM_TEST_SLURM_NODES=$(configured_nodes)"
        echo "GP2BM_TEST_SLURM_PARTITION=$PARTITION"
    } >"$ENV_FILE.tmp"
    mv "$ENV_FILE.tmp" "$ENV_FILE"
}

do_stop() {
    if [ -s "$CONF" ] && alive "$CTLD_PID"; then
        SLURM_CONF=$CONF timeout 10 scontrol shutdown >/dev/null 2>&1 || true
    fi
    # shellcheck disable=SC2046
    stop_all "$CTLD_PID" $(slurmd_pidfiles)
    stop_all "$MUNGE_PID"
    rm -f "$ENV_FILE" "$MUNGE_SOCKET"
}

case $ACTION in
start)
    need_root
    if running; then
        write_env
        cat "$ENV_FILE"
        exit 0
    fi
    ensure_packages
    do_stop
    # a fresh controller state: no jobs or node states of an earlier cluster in DIR
    rm -rf "$DIR/state" "$DIR/spool"
    write_conf
    if ! start_munge || ! start_slurm || ! wait_ready; then
        do_stop
        exit 1
    fi
    write_env
    cat "$ENV_FILE"
    ;;
stop)
    need_root
    do_stop
    ;;
env)
    running || die "Slurm in $DIR is not running"
    cat "$ENV_FILE"
    ;;
*)
    usage
    ;;
esac
