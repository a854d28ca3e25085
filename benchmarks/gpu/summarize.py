"""Table of the H100 serve runs: deployctl-launched vs by-hand vLLM, deployctl bench vs the anchor client.

Reads what benchmarks/gpu/h100.sh wrote into a results folder and prints, per format:
- decode tok/s at batch 1 (1000 / median TPOT) measured by the same anchor client against the engine
  deployctl launched and against the engine launched by hand → ratio (target ≥ 0.95);
- deployctl bench's batch-1 TPOT beside the anchor client's on the same server (agreement);
- output tok/s at 16 concurrent requests, and the batch-1 fraction of the bandwidth roofline.

    python benchmarks/gpu/summarize.py RESULTS_DIR [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

H100_SXM_BANDWIDTH_GB_S = 3350  # deployctl/data/gpus.yaml (datasheet figure; estimate only)


def _load(path: Path) -> dict | None:
    if not path.exists() or not path.read_text().strip():
        return None
    return json.loads(path.read_text().strip().splitlines()[-1])


def summarize(results: Path) -> list[dict]:
    rows = []
    for fmt in ("bf16", "fp8", "nvfp4"):
        ours = results / f"bench-deployctl-{fmt}.json"
        if not ours.exists():
            continue
        report = json.loads(ours.read_text())
        levels = {lv["max_concurrency"]: lv for lv in report["levels"]}
        anchor_dc = {c: _load(results / f"anchor-client-on-deployctl-{fmt}-c{c}.json") for c in (1, 16)}
        anchor_hand = {c: _load(results / f"bench-byhand-{fmt}-c{c}.json") for c in (1, 16)}
        roof = report.get("roofline") or {}
        dc_tok_s = anchor_dc[1]["per_stream_tok_s"] if anchor_dc[1] else None
        hand_tok_s = anchor_hand[1]["per_stream_tok_s"] if anchor_hand[1] else None
        rows.append({
            "format": fmt,
            "checkpoint_bytes": roof.get("model_bytes"),
            "decode_tok_s_deployctl_launched": dc_tok_s,
            "decode_tok_s_by_hand": hand_tok_s,
            "launched_over_by_hand": dc_tok_s / hand_tok_s if dc_tok_s and hand_tok_s else None,
            "bench_median_tpot_ms_c1": levels.get(1, {}).get("median_tpot_ms"),
            "anchor_median_tpot_ms_c1": anchor_dc[1]["median_tpot_ms"] if anchor_dc[1] else None,
            "bench_output_tok_s_c16": levels.get(16, {}).get("output_throughput"),
            "anchor_output_tok_s_c16_deployctl": anchor_dc[16]["output_throughput_tok_s"] if anchor_dc[16] else None,
            "anchor_output_tok_s_c16_by_hand": anchor_hand[16]["output_throughput_tok_s"] if anchor_hand[16] else None,
            "roofline_tok_s": roof.get("roofline_tokens_per_s"),
            "roofline_fraction_bench": roof.get("roofline_fraction"),
            "roofline_fraction_anchor": (dc_tok_s / roof["roofline_tokens_per_s"])
            if dc_tok_s and roof.get("roofline_tokens_per_s") else None,
        })  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = summarize(args.results)
    f = lambda v, spec: "-" if v is None else format(v, spec)  # noqa: E731
    print(f"{'format':<7} {'GB':>6} {'dc tok/s':>9} {'hand tok/s':>10} {'ratio':>6} {'bench TPOT':>10} "
          f"{'anchor TPOT':>11} {'c16 tok/s':>9} {'hand c16':>9} {'roof tok/s':>10} {'roof %':>7}")  # fmt: skip
    for r in rows:
        gb = r["checkpoint_bytes"] / 1e9 if r["checkpoint_bytes"] else None
        print(
            f"{r['format']:<7} {f(gb, '.2f'):>6} {f(r['decode_tok_s_deployctl_launched'], '.1f'):>9} "
            f"{f(r['decode_tok_s_by_hand'], '.1f'):>10} {f(r['launched_over_by_hand'], '.3f'):>6} "
            f"{f(r['bench_median_tpot_ms_c1'], '.2f'):>10} {f(r['anchor_median_tpot_ms_c1'], '.2f'):>11} "
            f"{f(r['bench_output_tok_s_c16'], '.0f'):>9} {f(r['anchor_output_tok_s_c16_by_hand'], '.0f'):>9} "
            f"{f(r['roofline_tok_s'], '.0f'):>10} {f(r['roofline_fraction_anchor'] and 100 * r['roofline_fraction_anchor'], '.1f'):>7}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
