#!/usr/bin/env bash
# podman.sh -- Podman's Docker-compatible API service for the tests, private to one directory.
#
#   scripts/podman.sh start DIR [REGISTRY...]  start `podman system service` on DIR/podman.sock
#                                              with storage, config and run state under DIR;
#                                              REGISTRY (host:port) are plain-HTTP registries
#                                              it may pull from; write DIR/env; print it
#   scripts/podman.sh stop DIR                 remove its containers, stop the service
#   scripts/podman.sh env DIR                  print DIR/env if the service answers, else exit 1
#
# DIR/env holds shell- and dotenv-compatible lines:
#   CONTAINER_HOST=unix:///abs/DIR/podman.sock   (what gp2bm's podman runtime connects to)
#   CONTAINERS_CONF=...  CONTAINERS_STORAGE_CONF=...  CONTAINERS_REGISTRIES_CONF=...
#                                                (for a `podman` CLI on the same storage)
#
# Exit status: 0 done; 1 failed; 2 usage; 3 this machine cannot run it (not root, packages not
# installable). Needs root (rootful podman). podman and runc are installed from Debian when
# missing. As ../shared/services/recipe_podman.sh found: runc, not crun (crun 1.8 fails on
# this cgroup layout); cgroupfs; default ulimits capped at the hard limits (the VM lacks
# CAP_SYS_RESOURCE); no network (containers get --network none).
set -euo pipefail

READY_TIMEOUT_S=${GP2BM_PODMAN_TIMEOUT:-60}
STOP_TIMEOUT_S=30

die() { echo "podman.sh: $*" >&2; exit 1; }
unavailable() { echo "podman.sh: $*" >&2; exit 3; }
log() { echo "podman.sh: $*" >&2; }
source "$(dirname "${BASH_SOURCE[0]}")/daemon_lib.sh"
usage() { echo "usage: $0 {start|stop|env} DIR [REGISTRY...]" >&2; exit 2; }

[ $# -ge 2 ] && [ -n "$2" ] || usage
ACTION=$1
mkdir -p "$2"
DIR=$(cd "$2" && pwd -P)
shift 2
REGISTRIES=("$@")

SOCK=$DIR/podman.sock
ENV_FILE=$DIR/env
PID_FILE=$DIR/service.pid
export CONTAINERS_CONF=$DIR/containers.conf
export CONTAINERS_STORAGE_CONF=$DIR/storage.conf
export CONTAINERS_REGISTRIES_CONF=$DIR/registries.conf

need_root() { [ "$(id -u)" = 0 ] || unavailable "must run as root (rootful podman)"; }

ensure_packages() {
    local missing=()
    command -v podman >/dev/null || missing+=(podman)
    command -v runc >/dev/null || missing+=(runc)
    command -v curl >/dev/null || missing+=(curl)
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null || unavailable "missing ${missing[*]} and no apt-get to install them"
    log "installing ${missing[*]}"
    local rc=0
    apt-get update -qq >&2 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >&2 || rc=$?
    [ $rc -eq 0 ] || unavailable "apt-get install ${missing[*]} failed (exit $rc)"
}



ready() { curl -fsS --max-time 2 --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1; }

write_conf() {
    local nofile reg
    nofile=$(ulimit -Hn)
    [ "$nofile" = unlimited ] && nofile=1048576
    mkdir -p "$DIR/root" "$DIR/runroot" "$DIR/tmp"
    cat >"$CONTAINERS_CONF" <<EOF
[containers]
default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=4096:4096"]
netns = "none"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$DIR/events.log"
runtime = "runc"
tmp_dir = "$DIR/tmp"
EOF
    cat >"$CONTAINERS_STORAGE_CONF" <<EOF
[storage]
driver = "vfs"
graphroot = "$DIR/root"
runroot = "$DIR/runroot"
EOF
    {
        echo 'unqualified-search-registries = []'
        for reg in "${REGISTRIES[@]}"; do
            printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$reg"
        done
    } >"$CONTAINERS_REGISTRIES_CONF"
}

write_env() {
    {
        echo "CONTAINER_HOST=unix://$SOCK"
        echo "CONTAINERS_CONF=$CONTAINERS_CONF"
        echo "CONTAINERS_STORAGE_CONF=$CONTAINERS_STORAGE_CONF"
        echo "CONTAINERS_REGISTRIES_CONF=$CONTAINERS_REGISTRIES_CONF"
    } >"$ENV_FILE.tmp"
    mv "$ENV_FILE.tmp" "$ENV_FILE"
}


do_stop() {
    if [ -s "$CONTAINERS_STORAGE_CONF" ]; then
        timeout 60 podman rm --all --force --time 0 >/dev/null 2>&1 || true
    fi
    if alive "$PID_FILE"; then
        local pid deadline=$((SECONDS + STOP_TIMEOUT_S))
        pid=$(cat "$PID_FILE")
        kill -TERM "$pid" 2>/dev/null || true
        while pid_alive "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
        pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$PID_FILE" "$ENV_FILE" "$SOCK"
    unmount_under "$DIR"
}

case $ACTION in
start)
    need_root
    ensure_packages
    if alive "$PID_FILE" && ready; then
        write_conf  # registries may differ: podman reads registries.conf at each pull
        write_env
        cat "$ENV_FILE"
        exit 0
    fi
    do_stop
    write_conf
    rm -f "$SOCK"
    setsid podman system service --time=0 "unix://$SOCK" >"$DIR/service.log" 2>&1 </dev/null &
    echo $! >"$PID_FILE"
    deadline=$((SECONDS + READY_TIMEOUT_S))
    until ready; do
        if ! alive "$PID_FILE"; then
            tail -n 20 "$DIR/service.log" >&2
            do_stop
            die "podman system service exited (log: $DIR/service.log)"
        fi
        if [ $SECONDS -ge $deadline ]; then
            do_stop
            die "podman system service not ready after ${READY_TIMEOUT_S}s"
        fi
        sleep 0.1
    done
    write_env
    cat "$ENV_FILE"
    ;;
stop)
    need_root
    do_stop
    ;;
env)
    alive "$PID_FILE" && ready || die "podman service in $DIR is not running"
    cat "$ENV_FILE"
    ;;
*)
    usage
    ;;
esac
