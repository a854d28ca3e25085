#!/usr/bin/env bash
# deployctl on two H200s (issue 22: two GPUs at the memory boundary), vLLM 0.24.0 as a local process.
#   bash benchmarks/gpu/h200x2.sh PHASE DIR [ARG]
# DIR collects every phase's results (JSON files named *tp2*, logs, a summary); keep it across calls
# (e.g. /tmp/res: /tmp lives while the machine is held). Each phase ends well inside one device call
# (10 min) and also packs DIR into $OUT/tp2-results.tgz when the device tool's $OUT is set.
# Install first with benchmarks/gpu/h200.sh (install, install-mo, piece 1..5), then run each phase as
#   bash benchmarks/gpu/h200.sh run h200x2.sh PHASE /tmp/res [ARG]        (device kind nvidia-h200-x2)
# Phases (expected time on the machine):
#   tp2-dummy-70b          Llama-3.1-70B shape, config + tokenizer only, `model.weights: dummy`, gpu auto ×2:
#                          validate at count 1 and 2, plan, apply, status, deployctl bench and vLLM's own
#                          `bench serve` at concurrency 1 and 16, destroy (~6 min: engine start ~160 s)
#   tp2-quant-32b-model    Qwen3-32B-shaped random bf16 model, 65.5 GB in 14 shards (~2-3 min, disk-bound)
#   tp2-quant-32b FORMAT [GIB]  deployctl quantize (fp8 or nvfp4) where the plan places calibration (one
#                          GPU holds 65.5 GB; GIB = quantization.max_gpu_memory_gib, e.g. 40, spreads it over
#                          both GPUs in a sequential map), nvidia-smi sampled every 0.5 s, against the plan's
#                          modelled peak per GPU (~4-6 min; +50 s for the first CUDA extension build)
#   tp2-serve-32b FORMAT   apply the cached export at tp=2, bench like tp2-dummy-70b, destroy (~5 min)
#   summary                one table from every tp2 JSON in DIR (seconds)
# NVLink multicast stays off (the machine's rule): the three switches below are exported and also set in
# each recipe's engine.env, so the engine has them whatever deployctl passes through.
set -euo pipefail
PHASE=${1:?phase}
DIR=${2:?results folder}
ARG=${3:-}
ARG2=${4:-}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
# Through `benchmarks/gpu/h200.sh run h200x2.sh PHASE /tmp/res`, h200.sh packs /tmp/res ($RES) itself.
if [ -n "${OUT:-}" ] && [ "${RES:-}" != "$DIR" ]; then
  trap 'tar czf "$OUT/tp2-results.tgz" -C "$DIR" . 2>/dev/null || true' EXIT
fi
export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export PYTHONPATH=/tmp/site:$PWD VLLM_USE_FLASHINFER_SAMPLER=0 PYTHONUNBUFFERED=1
export DEPLOYCTL_HOME=/tmp/dh HF_HUB_OFFLINE=1
DC="python3 -m deployctl"
M=/tmp/models
L70=$M/llama-3.1-70b-shape
Q32=$M/qwen3-32b-random

recipe() {  # recipe FILE NAME MODEL_YAML COUNT FORMAT [QUANT_KEYS]: vLLM 0.24 as a process on `gpu: auto` × COUNT
  cat > "$1" <<YAML
name: $2
model: $3
gpu: {type: auto, count: $4}
quantization: {format: $5, calibration: {samples: 64, seq_len: 512, batch_size: 8}${6:-}}
engine:
  name: vllm
  max_model_len: 4096
  gpu_memory_utilization: 0.9
  env: {PYTHONPATH: /tmp/site, VLLM_USE_FLASHINFER_SAMPLER: "0", NCCL_NVLS_ENABLE: "0",
        TORCH_SYMM_MEM_DISABLE_MULTICAST: "1", NVSHMEM_DISABLE_NVLS: "1"}
runtime: {kind: process, python: $(command -v python3)}
serve: {host: 127.0.0.1, port: 8000, served_name: m, health_timeout_s: 480}
smoke: {max_tokens: 16}
YAML
}

estimate() {  # estimate RECIPE FILE: deployctl's verdict, memory estimate and alternatives on these GPUs
  python3 - "$1" > "$2" <<'EOF'
import json, sys
from deployctl.capability import judge_recipe, resolve_gpu
from deployctl.recipe.load import load_recipe
recipe = load_recipe(sys.argv[1])
verdict = judge_recipe(recipe, gpu=resolve_gpu(recipe))
print(json.dumps({
    "level": verdict.level.value, "summary": verdict.summary(), "gpu": verdict.gpu.name,
    "memory": verdict.memory.model_dump(mode="json") if verdict.memory else None,
    "alternatives": [a.describe(verdict.weights, verdict.kv_cache, verdict.engine, verdict.gpu.name)
                     for a in verdict.alternatives],
}))
EOF
}

gpu_memory() {  # gpu_memory FILE: memory used per GPU now, as JSON
  nvidia-smi --query-gpu=index,memory.used,memory.total --format=csv,noheader,nounits |
    python3 -c 'import json,sys; print(json.dumps([dict(zip(("gpu","used_mib","total_mib"),map(int,l.split(",")))) for l in sys.stdin]))' > "$1"
}

sample_memory() {  # sample_memory FILE: per-GPU memory.used every 0.5 s in the background; prints its pid
  nvidia-smi --query-gpu=timestamp,index,memory.used --format=csv,noheader,nounits -lms 500 > "$1" 2>/dev/null &
  echo $!
}

peak_memory() {  # peak_memory SAMPLES OUTFILE: the peak per GPU, as JSON
  python3 - "$1" > "$2" <<'EOF'
import json, sys
peak = {}
for line in open(sys.argv[1]):
    parts = [p.strip() for p in line.split(",")]
    if len(parts) == 3 and parts[2].isdigit():
        peak[parts[1]] = max(peak.get(parts[1], 0), int(parts[2]))
print(json.dumps({"peak_used_mib": peak}))
EOF
}

bench_both() {  # bench_both TAG NAME MODEL_DIR: deployctl bench and vLLM's bench serve at c1 and c16
  local tag=$1 name=$2 model=$3 c n
  for c in 1 16; do
    n=$([ "$c" = 1 ] && echo 8 || echo 64)  # c1: 8 × 256 tokens (~45 s at 48 tok/s); c16: 64
    $DC --json bench "$name" --concurrency "$c" --num-prompts "$n" --input-len 128 --output-len 256 \
      --duration 150 --gpu H200 -o "$DIR/$tag-bench-deployctl-c$c.json" > /dev/null 2> "$DIR/$tag-bench-deployctl-c$c.log" ||
      tail -5 "$DIR/$tag-bench-deployctl-c$c.log"
    python3 -m vllm.entrypoints.cli.main bench serve --backend vllm --base-url http://127.0.0.1:8000 \
      --endpoint /v1/completions --model m --tokenizer "$model" --dataset-name random --random-input-len 128 \
      --random-output-len 256 --num-prompts "$n" --max-concurrency "$c" --ignore-eos --save-result \
      --result-dir "$DIR" --result-filename "$tag-bench-vllm-c$c.json" > "$DIR/$tag-bench-vllm-c$c.log" 2>&1 ||
      tail -5 "$DIR/$tag-bench-vllm-c$c.log"
  done
}

serve_and_bench() {  # serve_and_bench TAG NAME RECIPE MODEL_DIR: apply, memory, status, bench, destroy
  local tag=$1 name=$2 file=$3 model=$4 t0 code=0
  estimate "$file" "$DIR/$tag-estimate.json"
  $DC --json plan "$file" > "$DIR/$tag-plan.json" 2> "$DIR/$tag-plan.log" || true
  t0=$(date +%s.%N)
  $DC --json apply "$file" > "$DIR/$tag-apply.json" 2> "$DIR/$tag-apply.log" || code=$?
  echo "{\"apply_wall_s\": $(python3 -c "print(round($(date +%s.%N) - $t0, 1))"), \"exit_code\": $code}" > "$DIR/$tag-apply-wall.json"
  if [ "$code" != 0 ]; then
    tail -30 "$DIR/$tag-apply.log"; $DC logs "$name" --tail 60 2>&1 | tail -40 || true
    $DC destroy "$name" > /dev/null 2>&1 || true
    return 1
  fi
  gpu_memory "$DIR/$tag-gpu-memory.json"
  $DC --json status "$name" > "$DIR/$tag-status.json"
  $DC logs "$name" --tail 4000 2>&1 | grep -E "KV cache|Loading weights took|Model loading took|memory|Maximum concurrency|load_format" |
    tail -25 > "$DIR/$tag-engine-log.txt" || true
  bench_both "$tag" "$name" "$model"
  $DC destroy "$name" > /dev/null
}

case "$PHASE" in
tp2-dummy-70b)
  [ -f "$L70/config.json" ] || python3 benchmarks/gpu/make_model.py meta-llama/Llama-3.1-70B "$L70" --no-weights
  ls "$L70"
  recipe /tmp/tp2-dummy-70b-count1.yaml l70-dummy "{path: $L70, weights: dummy}" 1 none
  estimate /tmp/tp2-dummy-70b-count1.yaml "$DIR/tp2-dummy-70b-count1-estimate.json"  # rejected: 131 GiB of bf16
  $DC validate /tmp/tp2-dummy-70b-count1.yaml 2>&1 | tail -4 || true
  recipe /tmp/tp2-dummy-70b.yaml l70-dummy "{path: $L70, weights: dummy}" 2 none
  serve_and_bench tp2-dummy-70b l70-dummy /tmp/tp2-dummy-70b.yaml "$L70"
  python3 benchmarks/gpu/summarize_tp2.py "$DIR" ;;
tp2-quant-32b-model)
  df -h /tmp | tail -1
  [ -f "$Q32/model.safetensors.index.json" ] || python3 benchmarks/gpu/make_model.py Qwen/Qwen3-32B "$Q32" |
    tee "$DIR/tp2-quant-32b-model.txt"
  du -sh "$Q32"; df -h /tmp | tail -1 ;;
tp2-quant-32b)
  fmt=${ARG:?fp8 or nvfp4}; tag=tp2-quant-32b-$fmt
  free_gb=$(df --output=avail -B1G /tmp | tail -1 | tr -d ' ')
  need_gb=$([ "$fmt" = fp8 ] && echo 36 || echo 22)
  [ "$free_gb" -ge "$need_gb" ] || { echo "only $free_gb GB free, the $fmt export needs ~$need_gb GB: deployctl cache rm KEY of another export first"; exit 1; }
  # The GPU cap only moves calibration (not part of the cache key): tp2-serve-32b finds the export.
  recipe "/tmp/$tag.yaml" "q32-$fmt" "{path: $Q32}" 2 "$fmt" "${ARG2:+, max_gpu_memory_gib: $ARG2}"
  estimate "/tmp/$tag.yaml" "$DIR/$tag-estimate.json"
  $DC --json plan "/tmp/$tag.yaml" > "$DIR/$tag-plan.json" 2> "$DIR/$tag-plan.log" || true
  sampler=$(sample_memory "$DIR/$tag-memory-samples.csv")
  t0=$(date +%s.%N); code=0
  $DC --json quantize "/tmp/$tag.yaml" --no-progress > "$DIR/$tag-quantize.json" 2> "$DIR/$tag-quantize.log" || code=$?
  echo "{\"quantize_wall_s\": $(python3 -c "print(round($(date +%s.%N) - $t0, 1))"), \"exit_code\": $code}" > "$DIR/$tag-quantize-wall.json"
  kill "$sampler" 2>/dev/null || true; wait "$sampler" 2>/dev/null || true
  peak_memory "$DIR/$tag-memory-samples.csv" "$DIR/$tag-memory-peak.json"
  gzip -f "$DIR/$tag-memory-samples.csv"
  [ "$code" = 0 ] || tail -30 "$DIR/$tag-quantize.log"
  python3 benchmarks/gpu/summarize_tp2.py "$DIR" ;;
tp2-serve-32b)
  fmt=${ARG:?fp8 or nvfp4}; tag=tp2-serve-32b-$fmt
  recipe "/tmp/$tag.yaml" "q32-$fmt" "{path: $Q32}" 2 "$fmt"
  serve_and_bench "$tag" "q32-$fmt" "/tmp/$tag.yaml" "$Q32"
  python3 benchmarks/gpu/summarize_tp2.py "$DIR" ;;
summary) python3 benchmarks/gpu/summarize_tp2.py "$DIR" ;;
*) echo "unknown phase $PHASE"; exit 2 ;;
esac
