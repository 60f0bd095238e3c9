#!/usr/bin/env bash
# services.sh -- the real services the docker tests need, private to one directory.
#
#   scripts/services.sh start DIR   start dockerd (unix socket DIR/docker.sock) and a local OCI
#                                   registry (127.0.0.1:<free port>); write DIR/env; print it
#   scripts/services.sh stop DIR    stop both (and dockerd's containerd), unmount what is
#                                   left mounted under DIR
#   scripts/services.sh env DIR     print DIR/env if both services answer, else exit 1
#
# DIR/env holds shell- and dotenv-compatible lines:
#   DOCKER_HOST=unix:///abs/DIR/docker.sock
#   GP2BM_TEST_REGISTRY=127.0.0.1:PORT
#
# Exit status: 0 done; 1 failed; 2 usage; 3 this machine cannot run them (not root, packages
# not installable).
#
# Both commands are idempotent: "start" on running services only re-checks them, "stop" on
# stopped ones does nothing. Needs root. Missing Debian packages (docker.io docker-registry
# mmdebstrap curl) are installed first; "apt-get update" runs only when something is missing.
# Nothing listens outside loopback; dockerd creates no bridge and touches no iptables, so it
# leaves the host's network alone (containers get --network none or host).
set -euo pipefail

PACKAGES=(docker.io docker-registry mmdebstrap curl)
READY_TIMEOUT_S=${GP2BM_SERVICES_TIMEOUT:-60}
STOP_TIMEOUT_S=30

die() { echo "services.sh: $*" >&2; exit 1; }
# Exit status 3: this machine cannot provide the services (not root, packages not
# installable); callers such as the test fixtures skip rather than fail on it.
unavailable() { echo "services.sh: $*" >&2; exit 3; }
log() { echo "services.sh: $*" >&2; }
source "$(dirname "${BASH_SOURCE[0]}")/daemon_lib.sh"

usage() {
    echo "usage: $0 {start|stop|env} DIR" >&2
    exit 2
}

[ $# -eq 2 ] || usage
ACTION=$1
[ -n "$2" ] || usage
mkdir -p "$2"
DIR=$(cd "$2" && pwd -P)

SOCK_PATH=$DIR/docker.sock
ENV_FILE=$DIR/env
DOCKERD_PID=$DIR/dockerd.pid
# dockerd's own pidfile: it must be private (the default is /var/run/docker.pid) and it must
# differ from ours, or dockerd takes its own pid there for another running daemon.
DOCKERD_OWN_PID=$DIR/.dockerd.pid
REGISTRY_PID=$DIR/registry.pid
REGISTRY_ADDR_FILE=$DIR/registry.addr
EXEC_ROOT_FILE=$DIR/exec-root

# containerd puts its sockets under dockerd's exec-root; a unix socket path is limited to
# 107 bytes, so a deep DIR gets a short exec-root elsewhere, remembered in DIR/exec-root.
exec_root() {
    if [ -s "$EXEC_ROOT_FILE" ]; then
        cat "$EXEC_ROOT_FILE"
    elif [ ${#DIR} -le 48 ]; then
        echo "$DIR/exec"
    else
        echo "/run/gp2bm-exec-$(printf '%s' "$DIR" | cksum | cut -d' ' -f1)"
    fi
}


docker_ready() { curl -fsS --max-time 2 --unix-socket "$SOCK_PATH" http://docker/_ping >/dev/null 2>&1; }

registry_ready() {
    [ -s "$REGISTRY_ADDR_FILE" ] &&
        curl -fsS --max-time 2 "http://$(cat "$REGISTRY_ADDR_FILE")/v2/" >/dev/null 2>&1
}

running() { alive "$DOCKERD_PID" && alive "$REGISTRY_PID" && docker_ready && registry_ready; }

need_root() { [ "$(id -u)" = 0 ] || unavailable "must run as root (dockerd needs it)"; }

ensure_packages() {
    local missing=()
    command -v dockerd >/dev/null || missing+=(docker.io)
    command -v docker-registry >/dev/null || missing+=(docker-registry)
    command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
    command -v curl >/dev/null || missing+=(curl)
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null || unavailable "missing ${missing[*]} and no apt-get to install them"
    log "installing ${PACKAGES[*]} (missing: ${missing[*]})"
    # Keep the packages' own init scripts from starting a system-wide dockerd/registry:
    # the tests want only their private daemons.
    local policy=/usr/sbin/policy-rc.d own_policy=
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && own_policy=1
    fi
    local rc=0
    apt-get update -qq >&2 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            "${PACKAGES[@]}" >&2 || rc=$?
    [ -z "$own_policy" ] || rm -f "$policy"
    [ $rc -eq 0 ] || unavailable "apt-get install ${PACKAGES[*]} failed (exit $rc)"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}




write_env() {
    local tmp=$ENV_FILE.tmp
    {
        echo "DOCKER_HOST=unix://$SOCK_PATH"
        echo "GP2BM_TEST_REGISTRY=$(cat "$REGISTRY_ADDR_FILE")"
    } >"$tmp"
    mv "$tmp" "$ENV_FILE"
}

start_registry() {
    local port addr
    port=$(free_port)
    addr=127.0.0.1:$port
    mkdir -p "$DIR/registry"
    cat >"$DIR/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $DIR/registry
  delete:
    enabled: true
http:
  addr: $addr
EOF
    echo "$addr" >"$REGISTRY_ADDR_FILE"
    setsid docker-registry serve "$DIR/registry.yml" >"$DIR/registry.log" 2>&1 </dev/null &
    echo $! >"$REGISTRY_PID"
}

start_dockerd() {
    local exec_root
    exec_root=$(exec_root)
    echo "$exec_root" >"$EXEC_ROOT_FILE"
    [ ${#SOCK_PATH} -le 100 ] || die "DIR is too long for a unix socket path: $SOCK_PATH"
    mkdir -p "$DIR/data" "$exec_root"
    rm -f "$SOCK_PATH"
    # 127.0.0.0/8 registries are plain-HTTP by default; no bridge, no iptables, no NAT.
    setsid dockerd \
        --host "unix://$SOCK_PATH" \
        --data-root "$DIR/data" \
        --exec-root "$exec_root" \
        --pidfile "$DOCKERD_OWN_PID" \
        --iptables=false --ip6tables=false --ip-masq=false \
        --bridge=none \
        --storage-driver=overlay2 \
        --exec-opt native.cgroupdriver=cgroupfs \
        >"$DIR/dockerd.log" 2>&1 </dev/null &
    echo $! >"$DOCKERD_PID"
}

wait_ready() {
    local deadline=$((SECONDS + READY_TIMEOUT_S))
    until docker_ready && registry_ready; do
        if ! alive "$DOCKERD_PID"; then
            tail -n 30 "$DIR/dockerd.log" >&2
            log "dockerd exited (log: $DIR/dockerd.log)"
            return 1
        fi
        if ! alive "$REGISTRY_PID"; then
            tail -n 30 "$DIR/registry.log" >&2
            log "docker-registry exited (log: $DIR/registry.log)"
            return 1
        fi
        if [ $SECONDS -ge $deadline ]; then
            log "services not ready after ${READY_TIMEOUT_S}s (logs in $DIR)"
            return 1
        fi
        sleep 0.2
    done
}

do_stop() {
    local exec_root
    exec_root=$(exec_root)
    stop_all "$REGISTRY_PID" "$DOCKERD_PID"
    # dockerd normally takes its containerd down with it; make sure.
    stop_all "$exec_root/containerd/containerd.pid"
    # Container shims of this daemon only (matched by its private socket path) can outlive
    # a daemon that had to be killed.
    local shim
    for shim in $(pgrep -f -- "-address $exec_root/containerd/containerd.sock" || true); do
        kill -TERM "$shim" 2>/dev/null || true
    done
    # dockerd leaves its network-namespace bind mounts (and, after a SIGKILL, overlays).
    unmount_under "$DIR"
    [ "$exec_root" = "$DIR/exec" ] || { unmount_under "$exec_root"; rm -rf "$exec_root"; }
    rm -f "$ENV_FILE" "$SOCK_PATH" "$DOCKERD_OWN_PID" "$EXEC_ROOT_FILE"
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
    do_stop  # whatever half of a previous start is still there
    start_registry
    start_dockerd
    if ! wait_ready; then
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
    running || die "services in $DIR are not running"
    cat "$ENV_FILE"
    ;;
*)
    usage
    ;;
esac
