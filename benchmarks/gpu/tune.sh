#!/usr/bin/env bash
# `deployctl tune` on an H200 (vLLM 0.24.0 as a local process, Qwen3-8B-shaped random weights), fp8 and bf16.
# Target (issue #21): the profile ≥ 1.10× the defaults' batch-1 decode tok/s and ≥ 1.0× at 16 concurrent,
# greedy outputs unchanged. Run through h200.sh after install/piece/models:
#   bash benchmarks/gpu/h200.sh run tune.sh prepare DIR   quantize the fp8 checkpoint (cached in DEPLOYCTL_HOME)
#   bash benchmarks/gpu/h200.sh run tune.sh tune DIR      tune fp8 and bf16 (two GPUs: side by side; one GPU:
#                                                         one after the other), write the profiles
#   bash benchmarks/gpu/h200.sh run tune.sh compare DIR   defaults vs profile, same run, same engine → DIR/tune.json
# Each phase stays under 9 minutes: tune's --budget-minutes bounds every format (≤ 5 starts each) and a
# second call of `tune` resumes where the first stopped (finished candidates are kept in DEPLOYCTL_HOME).
set -euo pipefail
phase=${1:?usage: tune.sh prepare|tune|compare DIR}; DIR=${2:?results folder}
mkdir -p "$DIR"
M=/tmp/models/q8b
[ -f $M/config.json ] || python3 benchmarks/gpu/make_model.py Qwen/Qwen3-8B $M
DC="python3 -m deployctl"
GPUS=$(nvidia-smi --query-gpu=index --format=csv,noheader | wc -l)
PROFILES=$PWD/deployctl/data/profiles.yaml

recipe() {  # recipe FILE FORMAT PORT
  cat > "$1" <<YAML
name: q8b-$2
model: {path: $M}
gpu: auto
quantization: {format: $2, calibration: {samples: 64, seq_len: 512, batch_size: 8}}
engine:
  name: vllm
  max_model_len: 4096
  gpu_memory_utilization: 0.85
  env: {PYTHONPATH: /tmp/site, VLLM_USE_FLASHINFER_SAMPLER: "0"}
runtime: {kind: process, python: $(command -v python3)}
serve: {host: 127.0.0.1, port: $3, served_name: m, health_timeout_s: 600, front: none}
smoke: {max_tokens: 8}
YAML
}
recipe /tmp/tune-fp8.yaml fp8 8000
recipe /tmp/tune-none.yaml none 8001

on_gpu() {  # on_gpu N FORMAT CMD... : GPU N when there are two, else GPU 0
  local gpu=$1; shift; [ "$GPUS" -ge 2 ] || gpu=0
  CUDA_VISIBLE_DEVICES=$gpu "$@"
}

case "$phase" in
prepare)
  $DC quantize /tmp/tune-fp8.yaml --no-progress 2>&1 | tail -5 ;;
tune)
  # Two GPUs: 7.5 min each, side by side. One GPU: 4 min each (the second call of this phase resumes).
  minutes=$([ "$GPUS" -ge 2 ] && echo 7.5 || echo 4)
  run_tune() {  # run_tune GPU FORMAT
    on_gpu "$1" $DC --json tune "/tmp/tune-$2.yaml" --concurrency 16 --budget-starts 5 --budget-minutes "$minutes" \
      --no-progress --write-profile "$DIR/profile-$2.yaml" --machine "$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)" \
      -o "$DIR/tune-$2.json" > "$DIR/tune-$2.stdout" 2> "$DIR/tune-$2.log"
  }
  if [ "$GPUS" -ge 2 ]; then
    run_tune 0 fp8 & a=$!; run_tune 1 none & b=$!; wait $a || tail -20 "$DIR/tune-fp8.log"; wait $b || tail -20 "$DIR/tune-none.log"
  else
    run_tune 0 fp8; run_tune 0 none
  fi
  python3 - "$DIR" "$PROFILES" <<'PY'
import json, sys
from pathlib import Path
from deployctl.capability.profiles import load_profiles
from deployctl.tune.profile_row import write_profile
for fmt in ("fp8", "none"):  # one writer: the two tunes wrote their own files (none when no winner)
    written = Path(f"{sys.argv[1]}/profile-{fmt}.yaml")
    for row in load_profiles(written) if written.is_file() else []:
        write_profile(Path(sys.argv[2]), row)
for fmt in ("fp8", "none"):
    if not Path(f"{sys.argv[1]}/tune-{fmt}.json").is_file():
        print(fmt, "no result: see", f"{sys.argv[1]}/tune-{fmt}.log"); continue
    r = json.load(open(f"{sys.argv[1]}/tune-{fmt}.json"))
    print(fmt, r["winner"], r["options"], r["default_tok_s"], r["tuned_tok_s"], r["ratio"], r["stopped"])
PY
  cp "$PROFILES" "$DIR/profiles.yaml"
  ;;
compare)
  # Each device call brings a fresh copy of the repo: the profiles the tune phase merged are in $DIR.
  [ -f "$DIR/profiles.yaml" ] && PROFILES=$DIR/profiles.yaml
  # Defaults and the profile of each format, one engine after the other on the same GPU, same vLLM.
  run_compare() {  # run_compare GPU FORMAT (a format whose tune kept the defaults has no profile to compare)
    python3 -c "import json,sys; sys.exit(0 if json.load(open('$DIR/tune-$2.json')).get('winner') else 1)" 2>/dev/null ||
      { echo "$2: no profile (the tune kept the defaults)"; return 0; }
    DEPLOYCTL_PROFILES=$PROFILES on_gpu "$1" $DC --json tune "/tmp/tune-$2.yaml" --compare --concurrency 16 \
      --no-progress -o "$DIR/compare-$2.json" > /dev/null 2> "$DIR/compare-$2.log"
  }
  if [ "$GPUS" -ge 2 ]; then
    run_compare 0 fp8 & a=$!; run_compare 1 none & b=$!; wait $a; wait $b
  else
    run_compare 0 fp8; run_compare 0 none
  fi
  python3 - "$DIR" <<'PY'
import json, sys
rows = []
import os
for fmt in ("fp8", "none"):
    if not os.path.isfile(f"{sys.argv[1]}/compare-{fmt}.json"):
        continue
    r = json.load(open(f"{sys.argv[1]}/compare-{fmt}.json"))
    rows.append({
        "format": "bf16" if fmt == "none" else fmt, "profile": r["profile"], "options": r["options"],
        "concurrency": 1, "default_tok_s": r["default_tok_s"], "tuned_tok_s": r["tuned_tok_s"], "ratio": r["ratio"],
        "c16_default_tok_s": r["default_cn_tok_s"], "c16_tuned_tok_s": r["tuned_cn_tok_s"], "c16_ratio": r["cn_ratio"],
        "greedy_outputs_match": r["greedy_outputs_match"], "engine_version": r["match"]["engine_version"],
    })
json.dump(rows, open(f"{sys.argv[1]}/tune.json", "w"), indent=2)
print(json.dumps(rows, indent=2))
PY
  ;;
*) echo "usage: $0 prepare|tune|compare DIR"; exit 2 ;;
esac
