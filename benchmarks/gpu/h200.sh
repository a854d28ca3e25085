#!/usr/bin/env bash
# deployctl on the lent H200 machines (one or two GPUs): bring vLLM 0.24.0 + Model Optimizer 0.47.0 over,
# then run the measurement phases of benchmarks/gpu/*.sh. One phase per device call (10-minute limit); the
# machine keeps /tmp only while it is held, so the calls run back to back.
#   install     carry .whl .whl-dc    vLLM's missing dependencies + deployctl's CLI dependencies
#   install-mo  carry .whl-mo         Model Optimizer 0.47.0 (+ lm-eval's wheels if .whl-eval exists)
#   piece N     carry .vpN            the vLLM wheel in pieces; `piece 5` checks and installs it
#   models                            Qwen3-8B-shaped random-weight model (+ deployctl gpus)
#   run SCRIPT [ARGS]                 any benchmarks/gpu script, with the environment below
# The wheels come from a `fetch-wheels` step run beforehand on a machine with registry access (the team's
# script lists vLLM 0.24.0's missing dependencies for torch 2.11.0+cu130 on Python 3.12).
# Results: everything is written under /tmp/res and packed into $OUT/results.tgz after each call.
set -euo pipefail
FINAL_OUT=${OUT:-/tmp/out}
export RES=/tmp/res
mkdir -p "$RES" "$FINAL_OUT"
trap 'tar czf "$FINAL_OUT/results.tgz" -C "$RES" . 2>/dev/null || true' EXIT
export PYTHONPATH=/tmp/site:$PWD VLLM_USE_FLASHINFER_SAMPLER=0 PYTHONUNBUFFERED=1
export DEPLOYCTL_HOME=${DEPLOYCTL_HOME:-/tmp/dh} HF_HUB_OFFLINE=1
# NVLink multicast stays off on the lent multi-GPU hosts (the engine's environment passes these through).
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
PIP="python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site"
VLLM_WHEEL=/tmp/vllm-0.24.0-cp38-abi3-manylinux_2_28_x86_64.whl

case "${1:-}" in
install)
  $PIP .whl/*.whl .whl-dc/*.whl && python3 -m deployctl --help > /dev/null && echo "deps ok" ;;
install-mo)
  $PIP --upgrade .whl-mo/*.whl && python3 -c "import modelopt; print('modelopt', modelopt.__version__)"
  if [ -d .whl-eval ]; then $PIP --upgrade .whl-eval/*.whl && python3 -c "import lm_eval; print('lm_eval ok')"; fi ;;
piece)
  if [ "$2" = 1 ]; then cat .vp1/* > /tmp/vllm.part; else cat ".vp$2"/* >> /tmp/vllm.part; fi
  if [ "$2" = 5 ]; then
    mv /tmp/vllm.part "$VLLM_WHEEL"
    echo "$(cut -d' ' -f1 benchmarks/gpu/vllm-0.24.0.sha256)  $VLLM_WHEEL" | sha256sum -c -
    $PIP "$VLLM_WHEEL" && python3 -c "import vllm; print('vllm', vllm.__version__)"
  fi ;;
models)
  nvidia-smi --query-gpu=index,name,memory.total,memory.used,driver_version --format=csv | tee "$RES/nvidia-smi.csv"
  python3 -m deployctl --json gpus > "$RES/gpus.json"
  [ -d /tmp/models/q8b ] || python3 benchmarks/gpu/make_model.py Qwen/Qwen3-8B /tmp/models/q8b ;;
run)
  shift; script=$1; shift
  bash "benchmarks/gpu/$script" "$@" ;;
*) echo "usage: $0 install|install-mo|piece N|models|run SCRIPT [ARGS]"; exit 2 ;;
esac
