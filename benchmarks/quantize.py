"""deployctl's quantize pipeline vs a direct Model Optimizer script doing the same work, on one tiny model.

Both sides run in this one process, after the heavy imports are warm, so the ratio measures
deployctl's own overhead (key, lock, temp folder, manifest, tokenizer copy), not interpreter start:
- direct: load → base reference on held-out text → mtq.quantize(same preset, same calibration tokens)
  → the same quality figures → export_hf_checkpoint → copy tokenizer files;
- deployctl: `prepare()` on a cold cache (a fresh cache folder per run).
The cache hit is timed in-process and in a fresh interpreter (which includes Python start-up).
Per format it also prints where deployctl placed calibration and its modelled peak beside the peak
measured there (torch.cuda.max_memory_allocated, or the process's max RSS on the CPU): the check of
capability/calibration_placement.py's coefficients (data/calibration.yaml). Garbage is collected
before each side: the H100 run of 2026-11-25 did not, and each deployctl side then also counted the
previous side's quantized weights (fp8 +6.95 GB, nvfp4 +3.96 GB on the 8B shape).
Targets: ratio ≤ 1.05, cache hit < 1 s. The ratio is taken on this process's CPU time (min over
`--repeat` interleaved rounds): on a shared 2-core machine wall time swings ±50 % with other load,
CPU time much less. Wall-time minima are reported beside it.

    python benchmarks/quantize.py [--formats fp8,w4a16_awq] [--repeat 2] [--arch qwen3] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CALIBRATION = {"samples": 8, "seq_len": 64, "batch_size": 4}  # --samples/--seq-len change it (GPU runs)
FORMATS = ["fp8", "fp8_pc_pt", "int8_sq", "w4a16_awq", "w4a8_awq", "nvfp4"]


def recipe_for(model: Path, fmt: str) -> Any:
    from deployctl.recipe.load import parse_recipe_dict

    spec = {"format": fmt, "calibration": CALIBRATION}
    return parse_recipe_dict({"name": "bench", "model": {"path": str(model)}, "gpu": "cpu",
                              "engine": "vllm", "quantization": spec})  # fmt: skip
    # gpu: cpu only names where the checkpoint would be *served*; calibration runs on CUDA when present.


PEAK_GPU_BYTES: dict[str, int] = {}


def timed(fn: Any, *args: Any) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds of this process, result); records peak CUDA memory per side."""
    import gc

    import torch

    gc.collect()  # the previous side's model may sit in reference cycles until collected
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    elapsed = time.perf_counter() - wall, time.process_time() - cpu
    if torch.cuda.is_available():
        side = fn.__name__.removeprefix("run_")
        PEAK_GPU_BYTES[side] = max(PEAK_GPU_BYTES.get(side, 0), torch.cuda.max_memory_allocated())
    return *elapsed, result


def run_direct(model_dir: Path, fmt: str, out_dir: Path) -> None:
    """The script a user would write by hand with Model Optimizer's API (plus the same quality pass)."""
    import modelopt.torch.quantization as mtq
    import torch
    from modelopt.torch.export import export_hf_checkpoint
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from deployctl.quantize import calibration, quality
    from deployctl.quantize.formats import format_plan, needs_cuda_forward
    from deployctl.recipe.model import KvCacheFormat, QuantFormat

    config = getattr(mtq, format_plan(QuantFormat(fmt)).config_name)
    device = calibration.default_device()
    samples, seq_len, batch = CALIBRATION["samples"], CALIBRATION["seq_len"], CALIBRATION["batch_size"]
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype="auto").to(device).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    texts = calibration.split_texts(calibration.load_texts("builtin"))
    calib = calibration.pack_tokens(
        tokenizer, texts.calibration, sequences=samples, seq_len=seq_len, repeat=True
    )
    held = list(
        calibration.pack_tokens(tokenizer, texts.held_out, sequences=16, seq_len=seq_len, repeat=False).split(
            batch
        )
    )
    reference = quality.base_reference(model, held, device=device)

    def loop(m: Any) -> None:
        with torch.no_grad():
            for chunk in calib.split(batch):
                m(chunk.to(device))

    mtq.quantize(model, config, forward_loop=loop)
    if device != "cpu" or not needs_cuda_forward(QuantFormat(fmt), KvCacheFormat.NONE):
        quality.compare(model, reference, device=device)
    with torch.inference_mode():
        export_hf_checkpoint(model, export_dir=str(out_dir))
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy2(model_dir / name, out_dir / name)


def run_deployctl(model_dir: Path, fmt: str, cache: Path) -> Any:
    from deployctl.quantize.pipeline import prepare

    os.environ["DEPLOYCTL_CACHE"] = str(cache)
    return prepare(recipe_for(model_dir, fmt), progress=False)


def time_cache_hit(model_dir: Path, fmt: str) -> tuple[float, float]:
    """(in-process seconds, fresh-interpreter seconds including Python start) for a hit."""
    from deployctl.quantize.pipeline import prepare

    started = time.perf_counter()
    assert prepare(recipe_for(model_dir, fmt), progress=False).cache_hit
    in_process = time.perf_counter() - started
    root, model = str(Path(__file__).resolve().parent.parent), str(model_dir)
    code = (
        f"import sys; sys.path.insert(0, {root!r}); from benchmarks.quantize import recipe_for; "
        "from deployctl.quantize.pipeline import prepare; from pathlib import Path; "
        f"assert prepare(recipe_for(Path({model!r}), {fmt!r}), progress=False).cache_hit; "
        "assert 'torch' not in sys.modules"
    )
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], env=dict(os.environ), capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:  # report, don't lose the round's figures
        print(f"fresh-process cache hit failed for {fmt}:\n{done.stderr[-2000:]}", file=sys.stderr)
        return in_process, float("nan")
    return in_process, elapsed


def bench_format(model_dir: Path, fmt: str, repeat: int, work: Path) -> dict[str, Any]:
    PEAK_GPU_BYTES.clear()
    runs: dict[str, list[tuple[float, float]]] = {"direct": [], "deployctl": []}
    prepared = None
    for round_ in range(repeat):
        for side in ("direct", "deployctl") if round_ % 2 == 0 else ("deployctl", "direct"):
            target = Path(tempfile.mkdtemp(dir=work))
            fn = run_direct if side == "direct" else run_deployctl
            wall, cpu, result = timed(fn, model_dir, fmt, target)
            runs[side].append((wall, cpu))
            prepared = result if side == "deployctl" else prepared
    hit, hit_fresh = time_cache_hit(model_dir, fmt)
    manifest = prepared.manifest
    direct_cpu, ours_cpu = (min(c for _, c in runs[s]) for s in ("direct", "deployctl"))
    return {
        "format": fmt, "direct_cpu_s": direct_cpu, "deployctl_cpu_s": ours_cpu, "ratio_cpu": ours_cpu / direct_cpu,
        "direct_wall_s": min(w for w, _ in runs["direct"]), "deployctl_wall_s": min(w for w, _ in runs["deployctl"]),
        "cache_hit_s": hit, "cache_hit_fresh_process_s": hit_fresh, "size_bytes": manifest.size_bytes,
        "base_size_bytes": manifest.base_size_bytes, "timings_s": manifest.timings_s,
        "quality": manifest.quality.model_dump(),
        "peak_gpu_bytes": dict(PEAK_GPU_BYTES), "calibration": placement_check(manifest),
    }  # fmt: skip


def placement_check(manifest: Any) -> dict[str, Any]:
    """Where calibration ran, the plan's modelled peak there, and the peak measured there."""
    calibration = manifest.calibration or {}
    placed = calibration.get("placement") or {}
    on_gpu = bool(placed.get("gpus"))
    if on_gpu:
        estimate = max(placed.get("gpu_peak_bytes", {}).values(), default=0)
        measured = max(calibration.get("measured_gpu_peak_bytes", {}).values(), default=0)
    else:
        estimate, measured = placed.get("host_peak_bytes", 0), calibration.get("measured_host_peak_bytes", 0)
    return {
        "where": placed.get("kind"), "device": placed.get("device"), "memory": "gpu" if on_gpu else "host",
        "estimate_bytes": estimate, "measured_bytes": measured,
        "measured_over_estimate": round(measured / estimate, 3) if estimate else None,
        "estimate_s": placed.get("seconds"), "reason": placed.get("reason"),
    }  # fmt: skip


def render(rows: list[dict[str, Any]], arch: str) -> None:
    from rich.console import Console
    from rich.table import Table

    cal = f"{CALIBRATION['samples']}×{CALIBRATION['seq_len']}"
    table = Table(title=f"deployctl quantize vs direct Model Optimizer ({arch}, {cal} calibration)")
    # est/peak GiB: the placement's modelled peak and the peak measured where calibration ran
    for column in ("format", "direct cpu s", "ours cpu s", "ratio", "direct wall", "ours wall", "hit ms",
                   "hit new proc s", "MB", "ppl Δ", "top-1", "KL", "where", "est GiB", "peak GiB"):  # fmt: skip
        table.add_column(column, justify="right")
    for r in rows:
        q, c = r["quality"], r["calibration"]
        ok = q["status"] == "ok"
        table.add_row(
            r["format"], f"{r['direct_cpu_s']:.2f}", f"{r['deployctl_cpu_s']:.2f}", f"{r['ratio_cpu']:.3f}",
            f"{r['direct_wall_s']:.2f}", f"{r['deployctl_wall_s']:.2f}", f"{r['cache_hit_s'] * 1000:.1f}",
            f"{r['cache_hit_fresh_process_s']:.2f}", f"{r['size_bytes'] / 1e6:.2f}",
            f"{q['perplexity_increase']:+.2%}" if ok else "n/a (CUDA)",
            f"{q['top1_agreement']:.3f}" if ok else "-", f"{q['mean_kl']:.1e}" if ok else "-",
            f"{c['where']} ({c['memory']})", f"{c['estimate_bytes'] / 2**30:.2f}", f"{c['measured_bytes'] / 2**30:.2f}",
        )  # fmt: skip
    console = Console(width=160)
    console.print(table)
    direct, ours = sum(r["direct_cpu_s"] for r in rows), sum(r["deployctl_cpu_s"] for r in rows)
    console.print(
        f"all formats: direct {direct:.2f} s CPU, deployctl {ours:.2f} s CPU, ratio {ours / direct:.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--arch", default="qwen3", choices=["qwen3", "llama"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--model", type=Path, default=None, help="a model folder instead of a generated tiny one"
    )
    parser.add_argument("--samples", type=int, default=CALIBRATION["samples"])
    parser.add_argument("--seq-len", type=int, default=CALIBRATION["seq_len"])
    args = parser.parse_args()
    from deployctl.quantize.tiny import generate_tiny_model

    CALIBRATION.update(samples=args.samples, seq_len=args.seq_len)
    work = Path(tempfile.mkdtemp(prefix="deployctl-bench-quantize-"))
    try:
        with contextlib.redirect_stdout(sys.stderr):  # Model Optimizer prints on stdout
            model_dir = args.model or generate_tiny_model(args.arch, work / "model")
            run_direct(model_dir, "fp8", Path(tempfile.mkdtemp(dir=work)))  # warm imports and caches
            rows = [bench_format(model_dir, f, args.repeat, work) for f in args.formats.split(",")]
        render(rows, str(args.model.name) if args.model else f"tiny-{args.arch}")
        if args.json:
            args.json.write_text(json.dumps(rows, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
