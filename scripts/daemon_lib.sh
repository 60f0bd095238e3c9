# daemon_lib.sh -- process helpers shared by the scripts that start test daemons
# (services.sh, slurm.sh, podman.sh). Sourced, not run. The sourcing script defines
# log() and STOP_TIMEOUT_S.

# pid_alive PID: running and not a zombie (a PID 1 that never reaps would keep it forever).
pid_alive() {
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# alive PIDFILE: the process named by PIDFILE is running.
alive() { [ -s "$1" ] && pid_alive "$(cat "$1")"; }

# stop_all PIDFILE...: SIGTERM to all at once, wait for all, then SIGKILL the stragglers.
stop_all() {
    local pidfile pid pids=() left=() deadline=$((SECONDS + STOP_TIMEOUT_S))
    for pidfile in "$@"; do
        if [ -s "$pidfile" ]; then
            pid=$(cat "$pidfile")
            pid_alive "$pid" && kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
        fi
        rm -f "$pidfile"
    done
    while [ ${#pids[@]} -gt 0 ]; do
        left=()
        for pid in "${pids[@]}"; do pid_alive "$pid" && left+=("$pid"); done
        [ ${#left[@]} -gt 0 ] || return 0
        [ $SECONDS -lt $deadline ] || break
        sleep 0.1
    done
    for pid in "${left[@]}"; do
        log "pid $pid did not stop in ${STOP_TIMEOUT_S}s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    done
}

# unmount_under DIR: lazily unmount everything mounted below DIR, deepest first.
unmount_under() {
    local root=$1
    [ -n "$root" ] || return 0
    # /proc/mounts escapes spaces as \040
    awk -v r="$root/" 'index($2, r) == 1 {print $2}' /proc/mounts | sort -r |
        while read -r mnt; do
            umount -l "$(printf '%b' "$mnt")" 2>/dev/null || true
        done
}
