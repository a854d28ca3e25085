"""Tables of the two-H200 runs (benchmarks/gpu/h200x2.sh): serving at tp=2 and quantization at 32B.

Reads the *tp2* JSON files in a results folder and prints, then writes `tp2-summary.json`:
- per served model: apply and engine start time, memory per GPU (used vs deployctl's estimate), KV cache
  tokens, batch-1 decode and 16-concurrent throughput from `deployctl bench` beside vLLM's `bench serve`
  on the same server, and the batch-1 fraction of the bandwidth roofline (2 × H200 over the weights);
- per quantization: wall time and Model Optimizer's steps, where the plan placed calibration and its
  modelled peak per GPU against the peaks measured (torch's allocator, nvidia-smi), export size;
- the verdict for the 70B shape on one GPU and the alternatives it offered.

    python benchmarks/gpu/summarize_tp2.py RESULTS_DIR
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

GIB = 2**30


def load(path: Path) -> Any:
    """A JSON file's last JSON line (some tools print logs first); None when absent or empty."""
    if not path.is_file() or not path.read_text().strip():
        return None
    text = path.read_text().strip()
    try:
        return json.loads(text)
    except ValueError:
        return json.loads(text.splitlines()[-1])


def level(report: Any) -> dict[str, Any]:
    return (report or {}).get("levels", [{}])[0] if report else {}


def serve_row(folder: Path, tag: str) -> dict[str, Any]:
    apply, estimate = load(folder / f"{tag}-apply.json") or {}, load(folder / f"{tag}-estimate.json") or {}
    memory = estimate.get("memory") or {}
    log = folder / f"{tag}-engine-log.txt"
    kv = re.findall(r"KV cache size: ([\d,]+) tokens", log.read_text()) if log.is_file() else []
    dc = {c: load(folder / f"{tag}-bench-deployctl-c{c}.json") for c in (1, 16)}
    vl = {c: load(folder / f"{tag}-bench-vllm-c{c}.json") or {} for c in (1, 16)}
    roof = (dc[1] or {}).get("roofline") or {}
    vllm_decode = 1000 / vl[1]["median_tpot_ms"] if vl[1].get("median_tpot_ms") else None
    return {
        "tag": tag,
        "apply_wall_s": (load(folder / f"{tag}-apply-wall.json") or {}).get("apply_wall_s"),
        "engine_start_s": (apply.get("timings") or {}).get("engine_start"),
        "gpu_used_gib": [g["used_mib"] / 1024 for g in load(folder / f"{tag}-gpu-memory.json") or []],
        "estimate_weights_per_gpu_gib": memory.get("weights_per_gpu", 0) / GIB or None,
        "estimate_usable_per_gpu_gib": memory.get("usable_per_gpu", 0) / GIB or None,
        "estimate_kv_tokens": memory.get("kv_capacity_tokens"),
        "vllm_kv_tokens": int(kv[-1].replace(",", "")) if kv else None,
        "c1_tok_s_deployctl": level(dc[1]).get("output_throughput"),
        "c1_tok_s_vllm": vl[1].get("output_throughput"),
        "c1_tpot_ms_deployctl": level(dc[1]).get("median_tpot_ms"),
        "c1_tpot_ms_vllm": vl[1].get("median_tpot_ms"),
        "c16_tok_s_deployctl": level(dc[16]).get("output_throughput"),
        "c16_tok_s_vllm": vl[16].get("output_throughput"),
        "failed": (level(dc[1]).get("failed") or 0) + (level(dc[16]).get("failed") or 0),
        "roofline_tok_s": roof.get("roofline_tokens_per_s"),
        "roofline_fraction_deployctl": roof.get("roofline_fraction"),
        "roofline_fraction_vllm": vllm_decode / roof["roofline_tokens_per_s"]
        if vllm_decode and roof.get("roofline_tokens_per_s") else None,
    }  # fmt: skip


def quant_row(folder: Path, tag: str) -> dict[str, Any]:
    result = load(folder / f"{tag}-quantize.json") or {}
    manifest = result.get("manifest") or {}
    peak = (load(folder / f"{tag}-memory-peak.json") or {}).get("peak_used_mib", {})
    calibration = manifest.get("calibration") or {}  # the plan's placement and the peaks measured there
    placement = calibration.get("placement") or {}
    return {
        "tag": tag,
        "wall_s": (load(folder / f"{tag}-quantize-wall.json") or {}).get("quantize_wall_s"),
        "steps_s": ", ".join(f"{step} {t:.0f}" for step, t in (manifest.get("timings_s") or {}).items()),
        "device": manifest.get("device"),
        "placement": placement.get("reason"),
        "plan_peak_gib_per_gpu": {
            g: b / GIB for g, b in sorted((placement.get("gpu_peak_bytes") or {}).items())
        },
        "torch_peak_gib_per_gpu": {
            g: b / GIB for g, b in sorted((calibration.get("measured_gpu_peak_bytes") or {}).items())
        },
        "peak_gib_per_gpu": {gpu: mib / 1024 for gpu, mib in sorted(peak.items())},
        "export_gb": manifest.get("size_bytes", 0) / 1e9 or None,
        "quality": (manifest.get("quality") or {}).get("status"),
    }


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, list):
        return "/".join(fmt(v) for v in value)
    if isinstance(value, dict):
        return "/".join(fmt(v) for v in value.values())
    return str(value)


def table(rows: list[dict[str, Any]], columns: list[tuple[str, str, int]]) -> str:
    cells = [[title for title, _, _ in columns]]
    cells += [[fmt(row.get(key), digits) for _, key, digits in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)) for line in cells)


def main() -> None:
    folder = Path(sys.argv[1])
    serve_tags = sorted(p.name.removesuffix("-apply.json") for p in folder.glob("tp2-*-apply.json"))
    quant_tags = sorted(p.name.removesuffix("-quantize.json") for p in folder.glob("tp2-*-quantize.json"))
    summary = {
        "serve": [serve_row(folder, tag) for tag in serve_tags],
        "quantize": [quant_row(folder, tag) for tag in quant_tags],
        "count1_70b": load(folder / "tp2-dummy-70b-count1-estimate.json"),
    }
    (folder / "tp2-summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if one := summary["count1_70b"]:
        print(f"70B shape on one GPU: {one['level']}; alternatives: {'; '.join(one['alternatives'])}\n")
    if summary["quantize"]:
        print(table(summary["quantize"], [
            ("quantize", "tag", 0), ("wall s", "wall_s", 1), ("steps s", "steps_s", 1), ("on", "device", 0),
            ("plan GiB/GPU", "plan_peak_gib_per_gpu", 1), ("torch peak", "torch_peak_gib_per_gpu", 1),
            ("smi peak", "peak_gib_per_gpu", 1),
            ("export GB", "export_gb", 1), ("quality", "quality", 0),
        ]))  # fmt: skip
        for row in summary["quantize"]:
            print(f"  {row['tag']}: {row['placement'] or 'placement not recorded'}")
        print()
    if summary["serve"]:
        print(table(summary["serve"], [
            ("serve (tp=2)", "tag", 0), ("apply s", "apply_wall_s", 0), ("start s", "engine_start_s", 0),
            ("used GiB/GPU", "gpu_used_gib", 1), ("est. w GiB/GPU", "estimate_weights_per_gpu_gib", 1),
            ("KV tok", "vllm_kv_tokens", 0), ("c1 tok/s dc", "c1_tok_s_deployctl", 1),
            ("c1 vllm", "c1_tok_s_vllm", 1), ("TPOT ms dc", "c1_tpot_ms_deployctl", 2),
            ("TPOT vllm", "c1_tpot_ms_vllm", 2), ("c16 tok/s dc", "c16_tok_s_deployctl", 0),
            ("c16 vllm", "c16_tok_s_vllm", 0), ("roof tok/s", "roofline_tok_s", 0),
            ("roof frac", "roofline_fraction_deployctl", 2), ("failed", "failed", 0),
        ]))  # fmt: skip


if __name__ == "__main__":
    main()
