#!/usr/bin/env bash
# build_nvidia_standin_image.sh -- the proof image of NVIDIA's v4.0 launch chain, offline.
#
#   scripts/build_nvidia_standin_image.sh TAG
#
# Makes the base (scripts/build_base_image.sh with bash, python3, Open MPI, numactl), then
# builds containers/nvidia-standin/Dockerfile with `docker build --network=none` from a
# temporary build context holding NVIDIA's real files, copied from the fixtures folder
# (never from, nor into, this repository): ResNet's and BERT's run_and_time.sh and config
# files, the published logs the stand-ins replay, mlperf-common (bindpcie, slurm2pytorch,
# mlperf_common), and the mlperf-logging wheel (cached like build_smoke_image.sh's).
#
# Environment: DOCKER_HOST, GP2BM_NVIDIA_FIXTURES (default ../shared/fixtures/nvidia-v4.0
# beside the repository), GP2BM_NVIDIA_BASE (default gp2bm/nvidia-base:bookworm),
# GP2BM_CACHE, PYTHON, DOCKER_CLI. Prints TAG on stdout; progress on stderr.
# Exit status 3: the fixtures, the Debian mirror or the wheel are out of reach.
set -euo pipefail

[ $# -eq 1 ] && [ -n "$1" ] || { echo "usage: $0 TAG" >&2; exit 2; }
TAG=$1
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
SRC=$HERE/../containers/nvidia-standin
FIX=${GP2BM_NVIDIA_FIXTURES:-$HERE/../../shared/fixtures/nvidia-v4.0}
BASE=${GP2BM_NVIDIA_BASE:-gp2bm/nvidia-base:bookworm}
CACHE=${GP2BM_CACHE:-/var/cache/gp2bm}
MLPERF_LOGGING=mlperf-logging==4.1.68
WHEELS=$CACHE/wheels
# What NVIDIA's launch needs in the image besides Debian's essential packages.
BASE_PACKAGES=python3,python-is-python3,openmpi-bin,openssh-client,numactl,ibverbs-utils

log() { echo "build_nvidia_standin_image.sh: $*" >&2; }

[ -f "$FIX/README.md" ] || { log "NVIDIA's files are not at $FIX (set GP2BM_NVIDIA_FIXTURES)"; exit 3; }

if [ -n "${DOCKER_CLI:-}" ]; then DOCKER=$DOCKER_CLI
elif [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker
else DOCKER=docker
fi

GP2BM_BASE_PACKAGES=$BASE_PACKAGES "$HERE/build_base_image.sh" "$BASE" >/dev/null

wheel=$(find "$WHEELS" -maxdepth 1 -name 'mlperf_logging-4.1.68-*.whl' 2>/dev/null | sort | head -n 1)
if [ -z "$wheel" ]; then
    log "downloading $MLPERF_LOGGING"
    mkdir -p "$WHEELS"
    "${PYTHON:-python3}" -m pip download --quiet --no-deps --only-binary=:all: \
        --dest "$WHEELS" "$MLPERF_LOGGING" >&2 || { log "pip download $MLPERF_LOGGING failed"; exit 3; }
    wheel=$(find "$WHEELS" -maxdepth 1 -name 'mlperf_logging-4.1.68-*.whl' | sort | head -n 1)
fi

ctx=$(mktemp -d "${TMPDIR:-/tmp}/gp2bm-nvidia-ctx.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx"/{wheels,mlperf-common,resnet,bert/input_preprocessing,published/resnet,published/bert,standin}
cp "$wheel" "$ctx/wheels/"
cp -r "$FIX/mlperf-common/mlperf_common" "$FIX/mlperf-common/client" "$ctx/mlperf-common/"
R=$FIX/resnet/implementation
B=$FIX/bert/implementation
cp "$R/run_and_time.sh" "$R/config_DGXH100.sh" "$R/config_DGXA100_common.sh" "$ctx/resnet/"
cp "$B/run_and_time.sh" "$B/config_DGXH100_1x8x48x1_pack.sh" "$B/config_DGXA100_common.sh" "$ctx/bert/"
cp "$B/input_preprocessing/eval_varlength.chk" "$B/input_preprocessing/eval.md5" \
    "$ctx/bert/input_preprocessing/"
cp "$FIX"/resnet/results/result_*.txt "$ctx/published/resnet/"
cp "$FIX"/bert/results/result_*.txt "$ctx/published/bert/"
cp -r "$SRC"/{standin_replay.py,train_imagenet.py,run_pretraining.py,nvidia-smi,numactl,torch} \
    "$ctx/standin/"
cp "$SRC/Dockerfile" "$ctx/"
# The fixtures are read-only; the image's copies must be writable by the build.
chmod -R u+w "$ctx"

log "building $TAG from $BASE"
DOCKER_BUILDKIT=${DOCKER_BUILDKIT:-0} "$DOCKER" build --quiet --network=none \
    --build-arg "BASE_IMAGE=$BASE" --tag "$TAG" "$ctx" >&2
echo "$TAG"
