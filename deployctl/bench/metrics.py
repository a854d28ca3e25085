"""Recorded request timestamps → the summary `vllm bench serve` prints, with its JSON keys.

Pure: no clock, no I/O. Times are seconds from any monotonic origin; results are milliseconds for
latencies (`mean_ttft_ms`, `median_tpot_ms`, `p99_itl_ms`, ...) and per-second rates for throughput.
Percentiles interpolate linearly between order statistics (numpy's default, which vLLM uses) and `std`
is the population standard deviation (`np.std`), so equal inputs give vLLM's numbers.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

LATENCY_METRICS = ("ttft", "tpot", "itl", "e2el")
STAT_KEYS = ("mean", "median", "std", "p90", "p99")


@dataclass(frozen=True)
class RequestRecord:
    """One request as the client saw it: when it was sent, when each text-bearing chunk arrived,
    when it ended, and the token counts the server reported in `usage`."""

    start: float
    end: float
    chunk_times: tuple[float, ...] = ()
    prompt_tokens: int = 0
    output_tokens: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.chunk_times)

    @property
    def ttft(self) -> float:
        return self.chunk_times[0] - self.start

    @property
    def e2el(self) -> float:
        return self.end - self.start

    @property
    def tpot(self) -> float | None:
        """Decode time per token after the first; undefined for one-token answers (as in vLLM)."""
        if self.output_tokens < 2:
            return None
        return (self.e2el - self.ttft) / (self.output_tokens - 1)

    @property
    def itls(self) -> list[float]:
        return [b - a for a, b in zip(self.chunk_times, self.chunk_times[1:], strict=False)]


def percentile(values: Sequence[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy.percentile's default method)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_stats(seconds: Sequence[float]) -> dict[str, float | None]:
    """mean/median/std/p90/p99 in milliseconds; None when there is nothing to measure."""
    if not seconds:
        return dict.fromkeys(STAT_KEYS)
    ms = [value * 1000.0 for value in seconds]
    return {
        "mean": statistics.fmean(ms),
        "median": percentile(ms, 50),
        "std": statistics.pstdev(ms),
        "p90": percentile(ms, 90),
        "p99": percentile(ms, 99),
    }


def summarize(records: Sequence[RequestRecord], *, duration_s: float) -> dict[str, object]:
    """The flat summary of one load level, keyed like vLLM's result JSON."""
    done = [r for r in records if r.ok]
    failed = [r for r in records if not r.ok]
    total_in = sum(r.prompt_tokens for r in done)
    total_out = sum(r.output_tokens for r in done)
    rate = (lambda amount: amount / duration_s) if duration_s > 0 else (lambda amount: math.nan)
    summary: dict[str, object] = {
        "duration": duration_s,
        "completed": len(done),
        "failed": len(failed),
        "total_input_tokens": total_in,
        "total_output_tokens": total_out,
        "request_throughput": rate(len(done)),
        "output_throughput": rate(total_out),
        "total_token_throughput": rate(total_in + total_out),
    }
    samples = {
        "ttft": [r.ttft for r in done],
        "tpot": [t for r in done if (t := r.tpot) is not None],
        "itl": [gap for r in done for gap in r.itls],
        "e2el": [r.e2el for r in done],
    }
    for metric in LATENCY_METRICS:
        for stat, value in latency_stats(samples[metric]).items():
            summary[f"{stat}_{metric}_ms"] = value
    summary["errors"] = dict(Counter(r.error or "no tokens streamed" for r in failed))
    return summary
