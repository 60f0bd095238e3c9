#!/usr/bin/env bash
# apptainer.sh -- an Apptainer for the tests on Debian 12, where it is not packaged.
#
#   scripts/apptainer.sh install [PREFIX]   make PREFIX/bin/apptainer work (default
#                                           /opt/gp2bm-apptainer); print its path
#   scripts/apptainer.sh path [PREFIX]      print it if it works, else exit 1
#
# An apptainer already on PATH is used as it is. Otherwise, as ../shared/services/
# recipe_apptainer.sh found: Apptainer exists only in Debian unstable and needs its newer
# glibc, so the unstable apptainer and libc6 packages are downloaded with a private apt
# configuration (the system's sources are not touched), unpacked under PREFIX, and the two
# ELF programs (apptainer, starter) are pointed at the unpacked loader with patchelf.
# Apptainer is relocatable: it finds its configuration relative to the binary. Root's
# default capabilities are set to "no" (this VM's bounding set lacks CAP_SYS_RESOURCE).
# No daemon. Fragile by nature: unstable moves on, and its old packages vanish.
#
# Exit status: 0 done; 1 failed; 2 usage; 3 this machine cannot do it (not root, no
# apt-get, packages not downloadable).
set -euo pipefail

die() { echo "apptainer.sh: $*" >&2; exit 1; }
unavailable() { echo "apptainer.sh: $*" >&2; exit 3; }
log() { echo "apptainer.sh: $*" >&2; }
usage() { echo "usage: $0 {install|path} [PREFIX]" >&2; exit 2; }

[ $# -ge 1 ] && [ $# -le 2 ] || usage
ACTION=$1
PREFIX=${2:-/opt/gp2bm-apptainer}
BIN=$PREFIX/bin/apptainer
HELPERS=(squashfs-tools squashfuse patchelf libseccomp2 libsqlite3-0)

works() { "$1" --version >/dev/null 2>&1; }

found() {
    local on_path
    on_path=$(command -v apptainer 2>/dev/null || true)
    if [ -n "$on_path" ] && works "$on_path"; then echo "$on_path"; return 0; fi
    if [ -x "$BIN" ] && works "$BIN"; then echo "$BIN"; return 0; fi
    return 1
}

install() {
    [ "$(id -u)" = 0 ] || unavailable "must run as root (it installs packages)"
    command -v apt-get >/dev/null || unavailable "no apt-get"
    local missing=() pkg
    for pkg in squashfs-tools squashfuse patchelf; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing ${HELPERS[*]}"
        apt-get update -qq >&2 &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
                "${HELPERS[@]}" >&2 || unavailable "apt-get install ${HELPERS[*]} failed"
    fi

    local work apt
    work=$(mktemp -d "${TMPDIR:-/tmp}/gp2bm-apptainer.XXXXXX")
    trap 'rm -rf "$work"' RETURN
    apt=$work/apt
    mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$work/debs"
    echo 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main' \
        >"$apt/sources.list"
    local opts=(-o "Dir::Etc::sourcelist=$apt/sources.list" -o "Dir::Etc::sourceparts=/nonexistent"
        -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache"
        -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache=")
    log "downloading apptainer and libc6 from Debian unstable"
    apt-get "${opts[@]}" update -qq >&2 || unavailable "apt-get update (unstable) failed"
    (cd "$work/debs" && apt-get "${opts[@]}" download apptainer libc6 >&2) ||
        unavailable "apt-get download apptainer libc6 (unstable) failed"

    local root=$PREFIX/root usr=$PREFIX/root/usr loader rpath
    rm -rf "$PREFIX"
    mkdir -p "$PREFIX/bin"
    dpkg-deb -x "$work"/debs/apptainer_*.deb "$root"
    dpkg-deb -x "$work"/debs/libc6_*.deb "$PREFIX/glibc"
    # relocated: apptainer reads <prefix>/etc and keeps session dirs under <prefix>/var
    cp -a "$root/etc" "$usr/etc"
    mkdir -p "$usr/var/lib/apptainer/mnt/session" "$usr/lib/var/lib/apptainer/mnt/session"
    loader=$PREFIX/glibc/usr/lib64/ld-linux-x86-64.so.2
    [ -e "$loader" ] || loader=$(find "$PREFIX/glibc" -name 'ld-linux-x86-64.so.2' | head -n 1)
    [ -n "$loader" ] || die "no loader in the unstable libc6 package"
    rpath=$PREFIX/glibc/usr/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/lib/x86_64-linux-gnu
    patchelf --set-interpreter "$loader" --set-rpath "$rpath" "$usr/bin/apptainer"
    patchelf --set-interpreter "$loader" --set-rpath "$rpath" \
        "$usr/lib/x86_64-linux-gnu/apptainer/bin/starter"
    sed -i 's/^root default capabilities = full/root default capabilities = no/' \
        "$usr/etc/apptainer/apptainer.conf"
    ln -sf "$usr/bin/apptainer" "$BIN"
    works "$BIN" || die "the installed apptainer does not run: $("$BIN" --version 2>&1 | tail -n 1)"
}

case $ACTION in
install)
    found || { install; found; }
    ;;
path)
    found || die "no working apptainer (run: $0 install)"
    ;;
*)
    usage
    ;;
esac
