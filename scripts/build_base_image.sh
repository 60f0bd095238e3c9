#!/usr/bin/env bash
# build_base_image.sh -- the base of the smoke image, made without any registry.
#
#   scripts/build_base_image.sh [IMAGE]      (default: $GP2BM_SMOKE_BASE or gp2bm/smoke-base:bookworm)
#
# GP2BM_BASE_PACKAGES (comma-separated Debian packages) makes another base from the same
# recipe: scripts/build_nvidia_standin_image.sh uses it for bash, OpenMPI and numactl.
#
# Docker Hub is out of reach, so the base is a Debian bookworm root file system made by
# mmdebstrap (essential packages + python3-minimal + python3-numpy, from the Debian mirror
# apt uses) and loaded with `docker import`. The daemon is the one DOCKER_HOST names.
#
# Idempotent: nothing is done when the daemon already has IMAGE. The root file system tarball
# is cached under $GP2BM_CACHE (default /var/cache/gp2bm), so a fresh daemon gets the image
# back in seconds. Prints the image name on stdout; progress goes to stderr.
set -euo pipefail

IMAGE=${1:-${GP2BM_SMOKE_BASE:-gp2bm/smoke-base:bookworm}}
CACHE=${GP2BM_CACHE:-/var/cache/gp2bm}
SUITE=bookworm
PACKAGES=${GP2BM_BASE_PACKAGES:-python3-minimal,python3-numpy}
# Documentation, manual pages and translations are of no use in the image (~40 MB).
MMDEBSTRAP_ARGS=(
    --variant=essential --include="$PACKAGES"
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*'
    --dpkgopt='path-exclude=/usr/share/locale/*'
    "$SUITE"
)
# The cached tarball is named after the recipe, so a changed recipe makes a new one.
RECIPE_ID=$(printf '%s\n' "${MMDEBSTRAP_ARGS[@]}" | cksum | cut -d' ' -f1)
ROOTFS=$CACHE/smoke-base-$SUITE-$RECIPE_ID.tar

log() { echo "build_base_image.sh: $*" >&2; }
die() { log "$*"; exit 1; }
# Exit status 3: the base cannot be made on this machine (no mmdebstrap, no Debian mirror).
unavailable() { log "$*"; exit 3; }

# Debian's own 20.10 client matches the daemon; any client that can talk to it will do.
if [ -n "${DOCKER_CLI:-}" ]; then DOCKER=$DOCKER_CLI
elif [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker
else DOCKER=docker
fi

"$DOCKER" version --format '{{.Server.Version}}' >/dev/null 2>&1 ||
    die "no Docker daemon answers at DOCKER_HOST=${DOCKER_HOST:-<unset>}"

if "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1; then
    log "$IMAGE already present"
    echo "$IMAGE"
    exit 0
fi

if [ ! -s "$ROOTFS" ]; then
    command -v mmdebstrap >/dev/null ||
        unavailable "mmdebstrap is missing (apt-get install mmdebstrap, or scripts/services.sh start DIR)"
    mkdir -p "$CACHE"
    tmp=$(mktemp "$CACHE/.rootfs.XXXXXX.tar")
    trap 'rm -f "$tmp"' EXIT
    log "making a $SUITE root file system with $PACKAGES (about 30 s)"
    mmdebstrap --quiet "${MMDEBSTRAP_ARGS[@]}" "$tmp" >&2 ||
        unavailable "mmdebstrap failed: is the Debian mirror reachable?"
    chmod 644 "$tmp"
    mv "$tmp" "$ROOTFS"
    trap - EXIT
fi

log "importing $ROOTFS as $IMAGE"
"$DOCKER" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    --message "mmdebstrap ${MMDEBSTRAP_ARGS[*]}" \
    "$ROOTFS" "$IMAGE" >/dev/null
echo "$IMAGE"
