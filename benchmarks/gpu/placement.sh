#!/usr/bin/env bash
# Issue 18, item 1 on one H200: where `deployctl` calibrates while its own vLLM 0.24.0 engine holds 0.85
# of the GPU, how long it takes, and the peak it reached against the plan's estimate; then the same
# calibration on the idle GPU (the whole-GPU peak, measured with nothing else alive, refits
# `whole_gpu_factor` in deployctl/data/calibration.yaml).
#
#   bash benchmarks/gpu/h200.sh run placement.sh [OUT_DIR]   (one device call, ~4 min of GPU time;
#                                                            OUT_DIR defaults to $RES/placement)
#
# Needs, on the same held machine, vLLM 0.24.0 + Model Optimizer + deployctl's deps in /tmp/site: the
# set-up phases of benchmarks/gpu/h200.sh (install, install-mo, piece 1 … piece 5, models). Steps:
# the Qwen3-8B-shaped random model (33 s, skipped when /tmp/models/q8b exists) → `deployctl apply` of
# it in bf16 at gpu_memory_utilization 0.85, process runtime (~2 min) → a client polls the engine every
# 100 ms → `deployctl plan` and `deployctl quantize` of the same recipe with format nvfp4 (the first
# NVFP4 calibration of a machine also builds a CUDA extension, ~50 s) → client stopped → engine
# destroyed, cache entry removed → `deployctl quantize` again on the idle GPU.
# Writes OUT_DIR/placement.json (one object per scenario) and the raw plan/quantize JSON beside it.
set -euo pipefail
OUT_DIR=${1:-${RES:?usage: placement.sh OUT_DIR}/placement}
mkdir -p "$OUT_DIR"
export PYTHONPATH=/tmp/site:$PWD VLLM_USE_FLASHINFER_SAMPLER=0 PYTHONUNBUFFERED=1
export DEPLOYCTL_HOME=/tmp/dh-placement HF_HUB_OFFLINE=1
DC="python3 -m deployctl"
M=/tmp/models/q8b
[ -f $M/config.json ] || python3 benchmarks/gpu/make_model.py Qwen/Qwen3-8B $M

recipe() {  # recipe FILE FORMAT
  cat > "$1" <<YAML
name: q8b
model: {path: $M}
gpu: auto
quantization: {format: $2, calibration: {samples: 64, seq_len: 512, batch_size: 8}}
engine:
  name: vllm
  max_model_len: 4096
  gpu_memory_utilization: 0.85
  enforce_eager: true    # the engine only has to hold its share and answer: skip compile and CUDA graphs
  env: {PYTHONPATH: /tmp/site, VLLM_USE_FLASHINFER_SAMPLER: "0"}
runtime: {kind: process, python: $(command -v python3)}
serve: {host: 127.0.0.1, port: 8000, served_name: m, health_timeout_s: 600}
smoke: {max_tokens: 8}
YAML
}
recipe /tmp/serve.yaml none
recipe /tmp/nvfp4.yaml nvfp4

used() { nvidia-smi --query-gpu=memory.used,memory.total --format=csv,noheader | head -1; }
echo "idle: $(used)" | tee "$OUT_DIR/gpu-memory.txt"
$DC --json apply /tmp/serve.yaml > "$OUT_DIR/apply-serve.json" 2> "$OUT_DIR/apply-serve.log" || { tail -30 "$OUT_DIR/apply-serve.log"; exit 1; }
echo "engine at 0.85: $(used)" | tee -a "$OUT_DIR/gpu-memory.txt"

# A client asking the serving engine for one token every 100 ms while calibration runs beside it.
python3 - "$OUT_DIR/client.json" > /dev/null 2>&1 <<'PY' &
import json, signal, sys, time, urllib.request
counts = {"requests": 0, "failed": 0}
def stop(*_):
    json.dump(counts, open(sys.argv[1], "w")); sys.exit(0)
signal.signal(signal.SIGTERM, stop)
body = json.dumps({"model": "m", "prompt": "hi", "max_tokens": 1}).encode()
while True:
    counts["requests"] += 1
    try:
        urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:8000/v1/completions", body,
                               {"Content-Type": "application/json"}), timeout=10).read()
    except Exception:
        counts["failed"] += 1
    time.sleep(0.1)
PY
client=$!
(while kill -0 $client 2>/dev/null; do used; sleep 0.5; done) > "$OUT_DIR/gpu-memory-during.csv" &
sampler=$!

$DC --json plan /tmp/nvfp4.yaml > "$OUT_DIR/plan-beside-engine.json" 2> "$OUT_DIR/plan-beside-engine.log" || true
$DC --json quantize /tmp/nvfp4.yaml --no-progress > "$OUT_DIR/quantize-beside-engine.json" \
  2> "$OUT_DIR/quantize-beside-engine.log" || tail -30 "$OUT_DIR/quantize-beside-engine.log"
kill $client; wait $client 2>/dev/null || true; kill $sampler 2>/dev/null || true

$DC destroy q8b > /dev/null 2>&1 || true
key=$(python3 -c "import json;print(json.load(open('$OUT_DIR/quantize-beside-engine.json'))['checkpoint']['key'])" 2>/dev/null || true)
[ -n "$key" ] && $DC cache rm "$key" > /dev/null
echo "engine gone: $(used)" | tee -a "$OUT_DIR/gpu-memory.txt"
$DC --json quantize /tmp/nvfp4.yaml --no-progress > "$OUT_DIR/quantize-idle-gpu.json" \
  2> "$OUT_DIR/quantize-idle-gpu.log" || tail -30 "$OUT_DIR/quantize-idle-gpu.log"

python3 - "$OUT_DIR" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
def read(name):
    try:
        return json.loads((out / name).read_text())
    except (OSError, ValueError):
        return None
client = read("client.json") or {}
plan = read("plan-beside-engine.json") or {}
rows = []
for scenario, name in (("nvfp4 beside vLLM at 0.85", "quantize-beside-engine.json"), ("nvfp4 on the idle GPU", "quantize-idle-gpu.json")):
    manifest = (read(name) or {}).get("manifest") or {}
    cal = manifest.get("calibration") or {}
    placed = cal.get("placement") or {}
    gib = lambda b: round(b / 2**30, 2) if b else None
    rows.append({
        "scenario": scenario,
        "calibration_device": placed.get("device"), "placement": placed.get("kind"), "reason": placed.get("reason"),
        "max_memory_gib": {k: gib(v) for k, v in (placed.get("max_memory") or {}).items()},
        "calibration_peak_gib": gib(max((cal.get("measured_gpu_peak_bytes") or {}).values(), default=0)),
        "calibration_estimate_gib": gib(max((placed.get("gpu_peak_bytes") or {}).values(), default=0)),
        "estimate_s": placed.get("seconds"), "timings_s": manifest.get("timings_s"),
        "quality": manifest.get("quality"),
        **({"engine_requests": client.get("requests"), "engine_failed_requests": client.get("failed"),
            "plan_placement": (plan.get("calibration") or {}).get("kind")} if "beside" in scenario else {}),
    })
(out / "placement.json").write_text(json.dumps(rows, indent=2))
print(json.dumps(rows, indent=2))
PY
