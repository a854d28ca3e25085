#!/usr/bin/env bash
# Engine truth on the H200 (issue 19), driven by deployctl with vLLM 0.24.0 as a local process.
#
#   bash benchmarks/gpu/h200.sh run engine_truth.sh /tmp/res/engine-truth   (one device call, ~4 min)
#
# Prerequisite, on the same machine hold: benchmarks/gpu/h200.sh `install`, `install-mo`, `piece 1`..`piece 5`
# (vLLM 0.24.0, Model Optimizer 0.47.0 and deployctl's dependencies in /tmp/site). The `models` phase is not
# needed: this script makes a Qwen3-0.6B-shaped random model (model_type qwen3: the same vLLM 0.24 loader
# path as Qwen3-8B, so the same failure) to keep the run short. Its own DEPLOYCTL_HOME: /tmp/dh-truth.
# Commit OUT_DIR's *.json (and raw-failure.log) under benchmarks/results/engine-truth-h200-<date>/.
#
# Writes JSON to OUT_DIR:
#   refuse.json     fp8 + calibrated fp8 KV on vLLM 0.24: validate and apply refused before quantization,
#                   with the version reason; nothing quantized
#   checks.json     deployctl quantize of fp8, nvfp4 and fp8 + fp8_cast KV (kv_cache_scales: fixed): the
#                   checkpoint check's findings on each export (expected: none)
#   cast-serve.json apply of fp8 + fp8_cast KV: vLLM 0.24 loads and serves it (smoke test passes)
#   raw-failure.json the calibrated fp8 KV export started by hand on vLLM 0.24 (what deployctl now refuses):
#                   exit, and the root cause + hint deployctl's start_failure.explain reads from its log
set -uo pipefail
OUT=${1:?usage: engine_truth.sh OUT_DIR}; mkdir -p "$OUT"
export PYTHONPATH=/tmp/site:$PWD VLLM_USE_FLASHINFER_SAMPLER=0 PYTHONUNBUFFERED=1
export DEPLOYCTL_HOME=/tmp/dh-truth HF_HUB_OFFLINE=1
DC="python3 -m deployctl"
M=/tmp/models/q06
PY=$(command -v python3)
now() { date +%s.%N; }
secs() { python3 -c "print(round($(now) - $1, 2))"; }

[ -d $M ] || python3 benchmarks/gpu/make_model.py Qwen/Qwen3-0.6B $M > "$OUT/make-model.log" 2>&1

recipe() {  # recipe NAME KV SCALES PORT
  cat > "/tmp/$1.yaml" <<YAML
name: $1
model: {path: $M}
gpu: auto
quantization: {format: ${5:-fp8}, kv_cache: $2, kv_cache_scales: $3, calibration: {samples: 32, seq_len: 256, batch_size: 8}}
engine:
  name: vllm
  max_model_len: 2048
  gpu_memory_utilization: 0.5
  enforce_eager: true
  env: {PYTHONPATH: /tmp/site, VLLM_USE_FLASHINFER_SAMPLER: "0"}
runtime: {kind: process, python: $PY}
serve: {host: 127.0.0.1, port: $4, served_name: m, health_timeout_s: 300}
smoke: {max_tokens: 8}
YAML
}

# 1. refused before quantization, with the version reason
recipe refuse fp8 calibrated 8010
t=$(now); $DC --json validate /tmp/refuse.yaml > /tmp/refuse-validate.out 2> "$OUT/refuse-validate.err"; vrc=$?; vs=$(secs "$t")
t=$(now); $DC --json apply /tmp/refuse.yaml > /tmp/refuse-apply.out 2> "$OUT/refuse-apply.err"; arc=$?; as=$(secs "$t")
python3 - "$OUT" "$vrc" "$vs" "$arc" "$as" <<'EOF'
import json, pathlib, sys
out, vrc, vs, arc, as_ = pathlib.Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
v, a = (out / "refuse-validate.err").read_text(), (out / "refuse-apply.err").read_text()
cache = pathlib.Path("/tmp/dh-truth/checkpoints")
json.dump({
    "validate": {"exit": vrc, "seconds": vs, "judged_for_0_24": "judged for vllm 0.24.0" in v,
                 "kv_scale_reason": "KVCacheScaleParameter" in v},
    "apply": {"exit": arc, "seconds": as_, "kv_scale_reason": "KVCacheScaleParameter" in a,
              "checkpoints_made": len(list(cache.glob("*/manifest.json"))) if cache.exists() else 0},
    "expected": "both exit 1 in seconds, reason names KVCacheScaleParameter, no checkpoint made",
}, open(out / "refuse.json", "w"), indent=1)
EOF

# 2. the checkpoint check on good exports (deployctl quantize runs it on its output)
for case in "fp8 none calibrated fp8" "nvfp4 none calibrated nvfp4" "cast fp8 fixed fp8"; do
  set -- $case; recipe "check-$1" "$2" "$3" 8011 "$4"
  t=$(now); $DC --json quantize "/tmp/check-$1.yaml" > "/tmp/check-$1.json" 2> "$OUT/check-$1.err"; echo "$? $(secs "$t")" > "/tmp/check-$1.rc"
done
python3 - "$OUT" <<'EOF'
import json, pathlib, sys
from deployctl.checkpoint_check import check_checkpoint
out, results = pathlib.Path(sys.argv[1]), {}
for name, fixed in (("fp8", False), ("nvfp4", False), ("cast", True)):
    rc, secs = open(f"/tmp/check-{name}.rc").read().split()
    entry = {"quantize_exit": int(rc), "seconds": float(secs)}
    try:
        data = json.load(open(f"/tmp/check-{name}.json"))
        folder = pathlib.Path(data["checkpoint"]["path"])
        findings = check_checkpoint(folder, engine="vllm", engine_version="0.24.0", kv_scales_fixed=fixed)
        header = json.loads((folder / "hf_quant_config.json").read_text())["quantization"]
        tensors = []
        for shard in folder.glob("*.safetensors"):
            with open(shard, "rb") as file:
                tensors += list(json.loads(file.read(int.from_bytes(file.read(8), "little"))))
        entry.update(checkpoint=str(folder), quant=header, findings=[f.line() for f in findings],
                     kv_scale_tensors=sum(n.endswith(("k_scale", "v_scale")) for n in tensors),
                     input_scales=sum(n.endswith("input_scale") for n in tensors), tensors=len(tensors))
    except Exception as exc:  # a failed quantize: its stderr is in check-NAME.err
        entry["error"] = f"{type(exc).__name__}: {exc}"
    results[name] = entry
json.dump(results, open(out / "checks.json", "w"), indent=1)
EOF

# 3. the fp8_cast form served by vLLM 0.24 (deployctl apply: check, start, smoke)
recipe cast fp8 fixed 8012
t=$(now); $DC --json apply /tmp/cast.yaml > "$OUT/cast-apply.json" 2> "$OUT/cast-apply.err"; crc=$?; cs=$(secs "$t")
grep -hiE "kv.cache.*(dtype|scal)|fp8_e4m3|scaling factor" /tmp/dh-truth/logs/*.log 2>/dev/null | head -8 > "$OUT/cast-engine-kv-lines.txt"
$DC destroy cast > /dev/null 2>&1
python3 -c "import json; json.dump({'apply_exit': $crc, 'seconds': $cs, 'expected': 'exit 0: healthy and smoke-tested'}, open('$OUT/cast-serve.json', 'w'), indent=1)"

# 4. what the refusal spares: the calibrated fp8 KV export on vLLM 0.24 by hand, and deployctl's reading of its log
python3 - <<'EOF' > /tmp/calibrated-path.txt 2> "$OUT/raw-quantize.err"
from deployctl.quantize.pipeline import prepare
from deployctl.recipe.load import load_recipe
print(prepare(load_recipe("/tmp/refuse.yaml"), progress=False).checkpoint.path)
EOF
ckpt=$(tail -1 /tmp/calibrated-path.txt)
t=$(now)
timeout 300 python3 -m vllm.entrypoints.cli.main serve "$ckpt" --host 127.0.0.1 --port 8013 --quantization modelopt \
  --kv-cache-dtype fp8 --max-model-len 2048 --gpu-memory-utilization 0.5 --enforce-eager > "$OUT/raw-failure.log" 2>&1
rrc=$?; rs=$(secs "$t")
python3 - "$OUT" "$rrc" "$rs" <<'EOF'
import json, pathlib, sys
from deployctl.serve.start_failure import explain
out = pathlib.Path(sys.argv[1])
why = explain((out / "raw-failure.log").read_text(errors="replace"))
json.dump({"exit": int(sys.argv[2]), "seconds": float(sys.argv[3]), "root_cause": why.root_cause,
           "signature": why.signature, "hint": why.hint}, open(out / "raw-failure.json", "w"), indent=1)
EOF
cat "$OUT"/refuse.json "$OUT"/cast-serve.json; python3 -c "import json; d=json.load(open('$OUT/raw-failure.json')); print(d['signature'], d['root_cause'].splitlines()[-1:])"
