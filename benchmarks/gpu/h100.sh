#!/usr/bin/env bash
# deployctl on the lent H100 (issue 11): bring vLLM 0.24.0 + Model Optimizer 0.47.0 over, then measure
# deployctl against the same engine launched by hand. One phase per device call (10-minute limit):
#   install-deps   carry .whl .whl-dc   (vLLM's missing deps + deployctl's CLI deps)
#   install-mo     carry .whl-mo        (Model Optimizer)
#   piece N        carry .vpN           (the vLLM wheel in pieces; `piece 5` also installs it)
#   detect                              deployctl gpus, verdicts on sm90, gpu: auto recipes judged
#   models                              Qwen3-0.6B- and 8B-shaped random-weight models
#   quantize-small / quantize-8b        deployctl quantize vs direct Model Optimizer (benchmarks/quantize.py)
#   serve FORMAT                        apply (process runtime) + bench, then the same flags by hand + anchor client
#   two-engines                         capability/swap_strategy.py's vLLM rule: two engines at 0.45 of the GPU start
#                                       side by side; a second at vLLM's default share is refused
# The by-hand side uses the team's anchor scripts (carry .anchor: serve_bench.sh, bench.py).
# Results land in $OUT (the device tool returns them); /tmp survives only while the machine is held.
set -euo pipefail
# Everything is written under /tmp/res (kept while the machine is held) and packed into one archive
# in $OUT at the end of each call: the device tool returns at most 8 files per call.
FINAL_OUT=${OUT:-/tmp/out}; OUT=/tmp/res; mkdir -p "$OUT" "$FINAL_OUT"
trap 'tar czf "$FINAL_OUT/results.tgz" -C /tmp/res . 2>/dev/null || true' EXIT
export PYTHONPATH=/tmp/site:$PWD VLLM_USE_FLASHINFER_SAMPLER=0 PYTHONUNBUFFERED=1
export DEPLOYCTL_HOME=/tmp/dh HF_HUB_OFFLINE=1
PIP="python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site"
DC="python3 -m deployctl"
M=/tmp/models

recipe() {  # recipe NAME MODEL_DIR FORMAT
  cat > "/tmp/$1.yaml" <<YAML
name: $1
model: {path: $2}
gpu: auto
quantization: {format: $3, calibration: {samples: 64, seq_len: 512, batch_size: 8}}
engine:
  name: vllm
  max_model_len: 4096
  gpu_memory_utilization: 0.85
  env: {PYTHONPATH: /tmp/site, VLLM_USE_FLASHINFER_SAMPLER: "0"}
runtime: {kind: process, python: $(command -v python3)}
serve: {host: 127.0.0.1, port: 8000, served_name: m, health_timeout_s: 600}
smoke: {max_tokens: 16}
YAML
}

byhand() {  # the same flags by hand, with the team's anchor launcher and client (carry .anchor)
  fmt=$1
  ckpt=$(python3 -c "import json;print(json.load(open('$OUT/apply-$fmt.json'))['checkpoint'])")
  extra=(); [ "$fmt" = fp8 ] && extra=(--quantization modelopt); [ "$fmt" = nvfp4 ] && extra=(--quantization modelopt_fp4)
  VLLM_CACHE_ROOT=/tmp/dh/engine-cache/vllm OUT="$OUT" bash .anchor/serve_bench.sh "$ckpt" "byhand-$fmt" "${extra[@]}" 2>&1 | head -5
  python3 benchmarks/gpu/summarize.py "$OUT" | tee "$OUT/summary-$fmt.txt"
}

case "$1" in
install-deps) $PIP .whl/*.whl .whl-dc/*.whl && $DC --help >/dev/null && echo "deps ok" ;;
install-mo) $PIP --upgrade .whl-mo/*.whl && python3 -c "import modelopt; print('modelopt', modelopt.__version__)" ;;
piece)
  if [ "$2" = 1 ]; then cat .vp1/* > /tmp/vllm.part; else cat ".vp$2"/* >> /tmp/vllm.part; fi
  if [ "$2" = 5 ]; then
    mv /tmp/vllm.part /tmp/vllm-0.24.0-cp38-abi3-manylinux_2_28_x86_64.whl
    (cd /tmp && sha256sum -c "$OLDPWD/.whl/vllm.sha256")  # carry the 64-byte file alone if .whl is too big to carry
    $PIP /tmp/vllm-0.24.0-cp38-abi3-manylinux_2_28_x86_64.whl && python3 -c "import vllm; print('vllm', vllm.__version__)"
  fi ;;
detect)
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/nvidia-smi.csv"
  $DC --json gpus | tee "$OUT/gpus.json"
  $DC --json capabilities --gpu "H100 SXM" > "$OUT/capabilities-h100.json"
  mkdir -p $M/none && for f in none fp8 fp8_pc_pt nvfp4 w4a16_awq w4a8_awq int8_sq; do
    recipe "auto-$f" /tmp/models/q8b "$f"
    sed -i 's#model: {path: /tmp/models/q8b}#model: Qwen/Qwen3-8B#' "/tmp/auto-$f.yaml"
    echo "== $f"; $DC validate "/tmp/auto-$f.yaml" 2>&1 | tail -4 || true
  done 2>&1 | tee "$OUT/verdicts-auto.txt" ;;
models)
  python3 benchmarks/gpu/make_model.py Qwen/Qwen3-0.6B $M/q06
  python3 benchmarks/gpu/make_model.py Qwen/Qwen3-8B $M/q8b
  du -sh $M/* ;;
quantize-small)
  python3 benchmarks/quantize.py --model $M/q06 --formats fp8,nvfp4,w4a16_awq,w4a8_awq,int8_sq --repeat 1 \
    --samples 64 --seq-len 512 --json "$OUT/quantize-qwen3-0.6b.json" 2>"$OUT/quantize-qwen3-0.6b.log" ;;
quantize-8b)
  python3 benchmarks/quantize.py --model $M/q8b --formats fp8,nvfp4 --repeat 1 \
    --samples 64 --seq-len 512 --json "$OUT/quantize-qwen3-8b.json" 2>"$OUT/quantize-qwen3-8b.log" ;;
serve)
  fmt=$2; name="q8b-$fmt"; [ "$fmt" = bf16 ] && qf=none || qf=$fmt
  recipe "$name" $M/q8b "$qf"
  t0=$(date +%s.%N)
  $DC --json apply "/tmp/$name.yaml" > "$OUT/apply-$fmt.json" 2> "$OUT/apply-$fmt.log" || { tail -40 "$OUT/apply-$fmt.log"; exit 1; }
  echo "apply $fmt: $(python3 -c "print(round($(date +%s.%N)-$t0,1))") s"; tail -3 "$OUT/apply-$fmt.log"
  size=$(python3 -c "import json,pathlib;p=pathlib.Path(json.load(open('$OUT/apply-$fmt.json'))['checkpoint']);print(sum(f.stat().st_size for f in p.glob('*.safetensors')))")
  $DC --json bench http://127.0.0.1:8000 --model m --concurrency 1,16 --num-prompts 64 --input-len 128 --output-len 256 \
      --gpu "H100 SXM" --model-bytes "$size" -o "$OUT/bench-deployctl-$fmt.json" > /dev/null 2> "$OUT/bench-deployctl-$fmt.log" \
      || tail -20 "$OUT/bench-deployctl-$fmt.log"
  python3 .anchor/bench.py http://127.0.0.1:8000 m 1 5 256 > "$OUT/anchor-client-on-deployctl-$fmt-c1.json"
  python3 .anchor/bench.py http://127.0.0.1:8000 m 16 64 256 > "$OUT/anchor-client-on-deployctl-$fmt-c16.json"
  grep -iE 'kernel|marlin|cutlass|fp4|fp8' /tmp/dh/logs/*.log | head -8 > "$OUT/kernels-$fmt.txt" || true
  $DC destroy "$name"
  byhand "$fmt" ;;
byhand) byhand "$2" ;;
two-engines)
  [ -d $M/q06 ] || python3 benchmarks/gpu/make_model.py Qwen/Qwen3-0.6B $M/q06 > /dev/null
  start() {  # start PORT [vllm flags...]: serve q06 in the background, print the pid
    port=$1; shift
    python3 -m vllm.entrypoints.cli.main serve $M/q06 --host 127.0.0.1 --port "$port" --served-model-name m \
      --max-model-len 4096 "$@" > "$OUT/two-engines-$port.log" 2>&1 &
    echo $!
  }
  healthy() {  # healthy PORT PID: seconds to /health 200, or the engine's last words
    t0=$(date +%s.%N)
    for _ in $(seq 1 300); do
      curl -sf "127.0.0.1:$1/health" >/dev/null && { python3 -c "print(round($(date +%s.%N)-$t0,1))"; return 0; }
      kill -0 "$2" 2>/dev/null || { echo "exited: $(grep -iE 'error|memory' "$OUT/two-engines-$1.log" | tail -2)"; return 1; }
      sleep 1
    done; echo timeout; return 1
  }
  used() { nvidia-smi --query-gpu=memory.used,memory.total --format=csv,noheader; }
  {
    echo "idle: $(used)"
    a=$(start 8001 --gpu-memory-utilization 0.45); echo "A (0.45) healthy after $(healthy 8001 "$a") s: $(used)"
    b=$(start 8002 --gpu-memory-utilization 0.45); echo "B (0.45) beside A healthy after $(healthy 8002 "$b") s: $(used)"
    curl -s 127.0.0.1:8001/v1/completions -H 'Content-Type: application/json' -d '{"model":"m","prompt":"hi","max_tokens":4}' | head -c 120; echo
    curl -s 127.0.0.1:8002/v1/completions -H 'Content-Type: application/json' -d '{"model":"m","prompt":"hi","max_tokens":4}' | head -c 120; echo
    kill "$b"; wait "$b" 2>/dev/null || true  # its exit status is the SIGTERM
    c=$(start 8003); echo "C (vLLM's default share) beside A: $(healthy 8003 "$c" || true)"
    kill "$a" "$c" 2>/dev/null || true; wait 2>/dev/null || true
  } 2>&1 | tee "$OUT/two-engines.txt" ;;
*) echo "unknown phase $1"; exit 2 ;;
esac
