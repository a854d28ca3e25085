#!/usr/bin/env bash
# Download HAProxy and the shared libraries it links (Debian .debs, `apt-get download`) into a folder
# (default: .haproxy-debs/ in the project root, git-ignored) that a device call can carry to a machine
# with no apt and no network; benchmarks/gpu/unpack-haproxy.sh unpacks them there with `dpkg -x`.
# Run it on the Debian 12 machine where `apt-get install haproxy` ran (tests/run.sh installs it): the
# libraries to bring are the ones `ldd` resolves for the downloaded binary, mapped to their packages
# with `dpkg -S`, glibc (libc6) included: unpack-haproxy.sh starts HAProxy through the bundled loader,
# so the target's own glibc version does not matter (the set needs the GLIBC version printed at the end).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DEST=${1:-$ROOT/.haproxy-debs}
mkdir -p "$DEST"
cd "$DEST"
rm -f ./*.deb
apt-get download haproxy >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dpkg -x haproxy_*.deb "$work"
mapfile -t libs < <(ldd "$work/usr/sbin/haproxy" | awk '/=> \// {print $3}')
mapfile -t pkgs < <(for lib in "${libs[@]}"; do dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib"; done |
    cut -d: -f1 | sort -u)
apt-get download "${pkgs[@]}" >/dev/null
newest=$(for f in "$work/usr/sbin/haproxy" "${libs[@]}"; do objdump -T "$f" 2>/dev/null; done |
    grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
echo "haproxy + ${#pkgs[@]} library packages in $DEST ($(du -sh . | cut -f1)); needs glibc >= ${newest#GLIBC_}" >&2
ls "$DEST"/*.deb
