#!/usr/bin/env bash
# Format swaps through the front on one H200 (issue 18): fp8 → nvfp4 → fp8, blue-green at 0.45 of the GPU
# per engine, a client polling the public port every 100 ms (benchmarks/gpu/swap_front.py), then the
# front's cost at batch 1 (`deployctl bench` through the front and around it, interleaved), then a forced
# replace behind the front. Run through h200.sh after its set-up phases (install, install-mo, piece 1-5,
# models), one phase per device call, each carrying the HAProxy .debs made here beforehand by
# `bash benchmarks/gpu/fetch-haproxy.sh` (the machine has no apt and no network):
#   carry .haproxy-debs: bash benchmarks/gpu/h200.sh run swap_front.sh serve   /tmp/res/swap   ~3 min
#   carry .haproxy-debs: bash benchmarks/gpu/h200.sh run swap_front.sh swaps   /tmp/res/swap   ~4 min
#   carry .haproxy-debs: bash benchmarks/gpu/h200.sh run swap_front.sh replace /tmp/res/swap   ~1.5 min
# (h200.sh packs /tmp/res into $OUT/results.tgz after each call; the engines of one call keep running
# into the next, as the machine stays held between back-to-back calls.)
# (serve: quantize fp8 + first engine; swaps: fp8 → nvfp4 → fp8 polled, then the overhead bench; replace:
# serve.swap: replace, polled; then destroy). Results in OUT: swap.json (a list: scenario, strategy,
# requests, failed_requests, downtime_s, calibration_device/peak/estimate — null where nothing was
# calibrated), apply-*.json/.log, bench-{front,engine}-N.json, front-overhead.json. Engines run with
# enforce_eager to keep the whole run near 8 minutes (EAGER=false for CUDA graphs and torch.compile).
set -euo pipefail
PHASE=$1
OUT=$(mkdir -p "$2" && cd "$2" && pwd)
EAGER=${EAGER:-true}
MODEL=${MODEL:-/tmp/models/q8b}
PORT=8000

# HAProxy from the carried .debs: its own loader and libraries, for it alone (unpack-haproxy.sh)
if ! command -v haproxy > /dev/null; then
  [ -x /tmp/haproxy/bin/haproxy ] || bash benchmarks/gpu/unpack-haproxy.sh .haproxy-debs /tmp/haproxy > /dev/null
  export PATH=/tmp/haproxy/bin:$PATH
fi
haproxy -v | head -1

recipe() {  # recipe FILE FORMAT SWAP
  cat > "$1" <<YAML
name: swapfront
model: {path: $MODEL}
gpu: auto
quantization: {format: $2, calibration: {samples: 64, seq_len: 512, batch_size: 8}}
engine:
  name: vllm
  max_model_len: 4096
  gpu_memory_utilization: 0.45
  enforce_eager: $EAGER
  env: {PYTHONPATH: /tmp/site, VLLM_USE_FLASHINFER_SAMPLER: "0"}
runtime: {kind: process, python: $(command -v python3)}
serve: {host: 127.0.0.1, port: $PORT, served_name: m, health_timeout_s: 600, front: haproxy, swap: $3}
smoke: {max_tokens: 16}
YAML
}
recipe /tmp/swapfront-fp8.yaml fp8 auto
recipe /tmp/swapfront-nvfp4.yaml nvfp4 auto
recipe /tmp/swapfront-fp8-replace.yaml fp8 replace
sed -i 's/max_model_len: 4096/max_model_len: 2048/' /tmp/swapfront-fp8-replace.yaml  # a new spec: a real replace

poll() { python3 benchmarks/gpu/swap_front.py "$OUT" "$1" "$2" --port $PORT || echo "scenario $1 failed" >&2; }

bench() {  # bench NAME URL: batch 1, 16 requests of 128 tokens
  python3 -m deployctl --json bench "$2" --model m --concurrency 1 --num-prompts 16 --input-len 128 \
    --output-len 128 > "$OUT/bench-$1.json"
}

case "$PHASE" in
serve)  # the starting point, not a swap: not in swap.json
  python3 -m deployctl --json apply /tmp/swapfront-fp8.yaml > "$OUT/apply-serve-fp8.json" 2> "$OUT/apply-serve-fp8.log"
  nvidia-smi --query-gpu=index,name,memory.used,memory.total --format=csv > "$OUT/nvidia-smi-serve.csv" ;;
swaps)
  python3 -m deployctl plan /tmp/swapfront-nvfp4.yaml > "$OUT/plan-fp8-to-nvfp4.txt" || true
  poll fp8-to-nvfp4 /tmp/swapfront-nvfp4.yaml
  nvidia-smi --query-gpu=index,name,memory.used,memory.total --format=csv > "$OUT/nvidia-smi-swaps.csv"
  poll nvfp4-to-fp8 /tmp/swapfront-fp8.yaml ;;
overhead)  # the front's cost at batch 1: deployctl bench through the front and around it, interleaved
  engine=$(python3 -m deployctl --json list |
    python3 -c "import json, sys; print(next(d['upstream'] for d in json.load(sys.stdin) if d['name'] == 'swapfront'))")
  rounds=${ROUNDS:-2}
  for n in $(seq "$rounds"); do bench "front-$n" "http://127.0.0.1:$PORT"; bench "engine-$n" "$engine"; done
  python3 - "$OUT" <<'PY'
import json, statistics, sys
from pathlib import Path
out = Path(sys.argv[1])
def level(name): return json.loads((out / f"bench-{name}.json").read_text())["levels"][0]
rounds = len(list(out.glob("bench-front-*.json")))
rows = {w: [level(f"{w}-{n}") for n in range(1, rounds + 1)] for w in ("front", "engine")}
m = {w: {k: statistics.median(r[k] for r in rs) for k in ("median_ttft_ms", "median_tpot_ms")} for w, rs in rows.items()}
summary = {"front": m["front"], "engine": m["engine"],
           "ttft_overhead_ms": m["front"]["median_ttft_ms"] - m["engine"]["median_ttft_ms"],
           "tpot_overhead_pct": 100 * (m["front"]["median_tpot_ms"] / m["engine"]["median_tpot_ms"] - 1)}
(out / "front-overhead.json").write_text(json.dumps(summary, indent=2) + "\n")
print(json.dumps(summary))
PY
  ;;
replace)
  poll fp8-forced-replace /tmp/swapfront-fp8-replace.yaml
  python3 -m deployctl destroy swapfront ;;
*) echo "usage: $0 serve|swaps|overhead|replace OUT" >&2; exit 2 ;;
esac
cat "$OUT/swap.json" 2>/dev/null || true
