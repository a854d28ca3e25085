#!/usr/bin/env bash
# The task gate's cost on a real engine (issue 23): the Qwen3-8B-shaped model quantized to fp8 and nvfp4,
# served by vLLM 0.24.0 (process runtime), evaluated with lm-eval's local-completions on the shipped
# offline task (deployctl_cloze, 100 examples = 400 loglikelihood requests), and an fp8 → nvfp4 swap that
# the gate judges before the cutover. Run through benchmarks/gpu/h200.sh, after its install, install-mo
# (with .whl-eval: `bash benchmarks/gpu/fetch-eval-wheels.sh` here first), piece 1..5 and models phases:
#   run quality_gate.sh quantize   # ~2 min: both checkpoints into the cache (the nvfp4 one needs the GPU
#                                  #   free: quantized before any engine holds memory)
#   run quality_gate.sh gate       # ~2.5 min: apply fp8, deployctl eval, apply nvfp4 (gated), destroy
# Writes $RES/quality-gate/*.json (h200.sh packs $RES into $OUT/results.tgz): apply and eval results
# with their timings, the kept scores, and summary.json (eval seconds per engine, the swap's timings).
# The weights are random, so both engines score near chance (0.25); the point is what the gate costs.
set -euo pipefail
RES=${RES:-/tmp/res}
DIR="$RES/quality-gate"
mkdir -p "$DIR"
DC="python3 -m deployctl"
MODEL=${MODEL:-/tmp/models/q8b}

recipe() {  # recipe FORMAT: the same deployment (q8b) with another weight format
  cat > "/tmp/q8b-$1.yaml" <<YAML
name: q8b
model: {path: $MODEL}
gpu: auto
quantization: {format: $1, calibration: {samples: 32, seq_len: 256, batch_size: 8}}
engine:
  name: vllm
  max_model_len: 2048
  gpu_memory_utilization: 0.85
  enforce_eager: true  # no CUDA graphs or compile: the engine starts in about a third of the time
  env: {PYTHONPATH: /tmp/site, VLLM_USE_FLASHINFER_SAMPLER: "0"}
runtime: {kind: process, python: $(command -v python3)}
serve: {host: 127.0.0.1, port: 8000, served_name: m, health_timeout_s: 600}
smoke: {max_tokens: 16}
quality: {tasks: [deployctl_cloze], limit: 100, max_task_drop: 0.05, num_concurrent: 8}
YAML
}

timed() {  # timed NAME COMMAND...: stdout to $DIR/NAME.json, wall seconds to $DIR/NAME.seconds
  local name=$1 start rc=0
  shift
  start=$(date +%s.%N)
  "$@" > "$DIR/$name.json" 2> >(tee "$DIR/$name.log" >&2) || rc=$?
  python3 -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 2))" "$start" "$(date +%s.%N)" \
    > "$DIR/$name.seconds"
  echo "$name: exit $rc, $(cat "$DIR/$name.seconds") s"
  return 0
}

summary() {
  python3 - "$DIR" <<'EOF'
import json, pathlib, sys
d = pathlib.Path(sys.argv[1])
def load(name):
    try:
        return json.loads((d / f"{name}.json").read_text())
    except (OSError, ValueError):
        return None
out = {name: float((d / f"{name}.seconds").read_text()) for name in
       ("quantize-fp8", "quantize-nvfp4", "apply-fp8", "eval-fp8", "apply-nvfp4") if (d / f"{name}.seconds").exists()}
evaluation = load("eval-fp8") or {}
swap = load("apply-nvfp4") or {}
summary = {
    "wall_s": out,
    "eval_fp8_lm_eval_s": evaluation.get("seconds"),
    "eval_fp8_scores": evaluation.get("scores"),
    "swap_timings_s": swap.get("timings"),
    "swap_refused": swap == {} or "endpoint" not in swap,
}
(d / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
print(json.dumps(summary, indent=2))
EOF
}

case "${1:-}" in
quantize)
  recipe fp8; recipe nvfp4
  timed quantize-fp8 $DC --json quantize /tmp/q8b-fp8.yaml --no-progress
  timed quantize-nvfp4 $DC --json quantize /tmp/q8b-nvfp4.yaml --no-progress ;;
gate)
  recipe fp8; recipe nvfp4
  python3 -c "import lm_eval, importlib.metadata as m; print('lm_eval', m.version('lm_eval'))"
  timed apply-fp8 $DC --json apply /tmp/q8b-fp8.yaml
  timed eval-fp8 $DC --json eval q8b          # the serving engine's scores, kept as the swap's baseline
  timed apply-nvfp4 $DC --json apply /tmp/q8b-nvfp4.yaml   # gate: candidate evaluated before the cutover
  cp -r "$DEPLOYCTL_HOME/quality" "$DIR/kept-scores" 2>/dev/null || true
  $DC destroy q8b || true
  summary ;;
*) echo "usage: $0 quantize|gate"; exit 2 ;;
esac
