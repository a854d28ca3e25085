#!/usr/bin/env bash
# Builds (or reuses) the virtual environment in which tests/engines/test_sglang_parser.py runs SGLang's
# own argument parser (`sglang.srt.server_args.prepare_server_args`, what `sglang serve` and
# `python -m sglang.launch_server` call) on every command line deployctl emits for SGLang.
# Prints the venv's path on stdout. It is not the project's venv: the engine is no import of deployctl.
#
# SGLang cannot be installed with its dependencies here (it pins torch 2.14.1, a multi-GB CUDA build,
# plus flashinfer and sglang-kernel). Its PyPI wheel (cp311, 39 MB; Rust extensions inside that the
# parser never loads) is installed with --no-deps, next to exactly what importing
# `sglang.srt.server_args` needs (measured by importing until nothing was missing):
# - torch: `sglang/srt/utils/common.py` imports torch and torch.distributed at module level; the CPU
#   build $TORCH_VERSION from this machine's disk stands in for 2.14.1 (the parser uses no tensor op);
# - triton: the same module imports it unconditionally (torch's CPU build does not bring it);
# - the rest are plain imports of `sglang/__init__.py`, `sglang/srt/utils/common.py` and the
#   `sglang/srt/arg_groups/` modules: numpy orjson psutil pybase64 requests packaging pillow starlette
#   msgspec pydantic pyzmq tqdm IPython aiohttp.
# Cached in $DEPLOYCTL_CI_CACHE by a hash of this script, the versions and the Python (cached_venv, lib.sh).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SGLANG_VERSION=0.5.23
# Resolved on 2026-11-30 for sglang 0.5.23 (its METADATA leaves these unpinned, pyzmq >= 25.1.2 only).
PARSER_DEPS=(
    "triton==3.9.0" "numpy==2.4.6" "orjson==3.13.0" "psutil==7.2.2" "pybase64==1.5.1" "requests==2.34.2"
    "packaging==26.4" "pillow==13.0.0" "starlette==1.10.0" "msgspec==0.23.0" "pydantic==2.14.4"
    "pyzmq==27.3.0" "tqdm==4.70.1" "ipython==9.18.1" "aiohttp==3.14.5"
)

# build_sglang_venv VENV PIP...: what cached_venv runs in a fresh venv.
build_sglang_venv() {
    local venv=$1
    shift
    quiet_pip "$@" install --quiet --progress-bar off "torch==$TORCH_VERSION" "${PARSER_DEPS[@]}"
    quiet_pip "$@" install --quiet --progress-bar off --no-deps "sglang==$SGLANG_VERSION"
    "$venv/bin/python" - <<'PY'
import argparse, importlib.metadata as md
from sglang.srt.server_args import ServerArgs  # fails the build here rather than in a test
parser = argparse.ArgumentParser()
ServerArgs.add_cli_args(parser)
print("sglang", md.version("sglang"), "parser options", len(parser._actions))
PY
}

cached_venv sglang-venv "the SGLang parser venv (sglang $SGLANG_VERSION --no-deps, ~3 min)" build_sglang_venv \
    "$SGLANG_VERSION" "$TORCH_VERSION"
