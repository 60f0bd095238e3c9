#!/usr/bin/env bash
# build_smoke_image.sh -- build the smoke benchmark image offline.
#
#   scripts/build_smoke_image.sh TAG
#
# Makes sure the base exists (scripts/build_base_image.sh), then builds
# containers/smoke/Dockerfile with `docker build --network=none` from a temporary build
# context holding train.py and the mlperf-logging wheel. The wheel is fetched once with
# `pip download` (from PyPI, or whatever index pip is configured for) and cached under
# $GP2BM_CACHE/wheels (default /var/cache/gp2bm); it never lands in the repository.
#
# Environment: DOCKER_HOST (the daemon), GP2BM_SMOKE_BASE (base image, default
# gp2bm/smoke-base:bookworm), GP2BM_CACHE, PYTHON (interpreter whose pip downloads the wheel,
# default python3), DOCKER_CLI (client binary). Prints TAG on stdout; progress on stderr.
# Exit status 3: a needed download (Debian packages, the wheel) is out of reach.
set -euo pipefail

[ $# -eq 1 ] && [ -n "$1" ] || { echo "usage: $0 TAG" >&2; exit 2; }
TAG=$1
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
SRC=$HERE/../containers/smoke
BASE=${GP2BM_SMOKE_BASE:-gp2bm/smoke-base:bookworm}
CACHE=${GP2BM_CACHE:-/var/cache/gp2bm}
MLPERF_LOGGING=mlperf-logging==4.1.68
WHEELS=$CACHE/wheels

log() { echo "build_smoke_image.sh: $*" >&2; }

if [ -n "${DOCKER_CLI:-}" ]; then DOCKER=$DOCKER_CLI
elif [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker
else DOCKER=docker
fi

"$HERE/build_base_image.sh" "$BASE" >/dev/null

find_wheel() {
    [ -d "$WHEELS" ] || return 0
    find "$WHEELS" -maxdepth 1 -name 'mlperf_logging-4.1.68-*.whl' | sort | head -n 1
}

wheel=$(find_wheel)
if [ -z "$wheel" ]; then
    log "downloading $MLPERF_LOGGING"
    mkdir -p "$WHEELS"
    "${PYTHON:-python3}" -m pip download --quiet --no-deps --only-binary=:all: \
        --dest "$WHEELS" "$MLPERF_LOGGING" >&2 || { log "pip download $MLPERF_LOGGING failed"; exit 3; }
    wheel=$(find_wheel)
    [ -n "$wheel" ] || { log "pip download gave no mlperf-logging wheel"; exit 3; }
fi

ctx=$(mktemp -d "${TMPDIR:-/tmp}/gp2bm-smoke-ctx.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
cp "$SRC/Dockerfile" "$SRC/train.py" "$wheel" "$ctx/"

log "building $TAG from $BASE"
# The legacy builder needs no BuildKit component; with --bridge=none, RUN steps only work
# without a network, which is also what makes the build provably offline.
DOCKER_BUILDKIT=${DOCKER_BUILDKIT:-0} "$DOCKER" build --quiet --network=none \
    --build-arg "BASE_IMAGE=$BASE" --tag "$TAG" "$ctx" >&2
echo "$TAG"
