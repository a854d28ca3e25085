"""The bench summary from known timestamps: vLLM's definitions and keys, checked by hand-computed values."""

from __future__ import annotations

import random

import pytest

from deployctl.bench.metrics import RequestRecord, latency_stats, percentile, summarize
from deployctl.bench.prompts import make_prompts
from deployctl.bench.roofline import Roofline, decode_rate_from_tpot, weights_bytes

# Two answered requests and one failure, over a 0.5 s level:
#   A: sent 0.00, tokens at 0.10 0.15 0.20 0.30, done 0.30, 10 prompt + 4 output tokens
#   B: sent 0.05, tokens at 0.25 0.35, done 0.40, 12 prompt + 2 output tokens
#   C: sent 0.10, HTTP 500, nothing streamed
RECORDS = (
    RequestRecord(start=0.0, end=0.3, chunk_times=(0.1, 0.15, 0.2, 0.3), prompt_tokens=10, output_tokens=4),
    RequestRecord(start=0.05, end=0.4, chunk_times=(0.25, 0.35), prompt_tokens=12, output_tokens=2),
    RequestRecord(start=0.1, end=0.12, error="HTTP 500: boom"),
)


@pytest.fixture(scope="module")
def summary() -> dict:
    return summarize(RECORDS, duration_s=0.5)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        pytest.param("completed", 2, id="answered requests count as completed"),
        pytest.param("failed", 1, id="a request with an error counts as failed"),
        pytest.param("total_input_tokens", 22, id="input tokens are the server's usage counts"),
        pytest.param("total_output_tokens", 6, id="output tokens are the server's usage counts"),
        pytest.param("request_throughput", 4.0, id="requests per second over the level's duration"),
        pytest.param("output_throughput", 12.0, id="output tokens per second over the level's duration"),
        pytest.param("total_token_throughput", 56.0, id="input plus output tokens per second"),
        pytest.param("mean_ttft_ms", 150.0, id="TTFT is send to first token, averaged"),
        pytest.param("median_ttft_ms", 150.0, id="the TTFT median interpolates between two requests"),
        pytest.param("p90_ttft_ms", 190.0, id="p90 interpolates linearly like numpy"),
        pytest.param("std_ttft_ms", 50.0, id="std is the population standard deviation"),
        pytest.param(
            "mean_tpot_ms", (200 / 3 + 150) / 2, id="TPOT is decode time over tokens after the first"
        ),
        pytest.param("mean_itl_ms", 75.0, id="ITL pools every gap between chunks of all requests"),
        pytest.param("median_itl_ms", 75.0, id="the ITL median is taken over the pooled gaps"),
        pytest.param("p99_itl_ms", 100.0, id="the ITL tail is the slowest gap"),
        pytest.param("mean_e2el_ms", 325.0, id="E2EL is send to last byte"),
    ],
)
def test_summary_matches_hand_computed_values(summary: dict, key: str, expected: float) -> None:
    assert summary[key] == pytest.approx(expected)


def test_failures_are_grouped_by_message(summary: dict) -> None:
    assert summary["errors"] == {"HTTP 500: boom": 1}


def test_summary_uses_vllm_bench_serve_keys(summary: dict) -> None:
    for metric in ("ttft", "tpot", "itl", "e2el"):
        for stat in ("mean", "median", "std", "p90", "p99"):
            assert f"{stat}_{metric}_ms" in summary


def test_a_one_token_answer_has_no_tpot() -> None:
    one = RequestRecord(start=0.0, end=0.2, chunk_times=(0.2,), output_tokens=1)
    assert one.tpot is None
    assert summarize([one], duration_s=1.0)["mean_tpot_ms"] is None


def test_a_stream_that_ends_without_tokens_is_a_failure() -> None:
    empty = RequestRecord(start=0.0, end=0.1)
    summary = summarize([empty], duration_s=1.0)
    assert (summary["completed"], summary["failed"]) == (0, 1)
    assert summary["errors"] == {"no tokens streamed": 1}


def test_a_level_with_no_answers_reports_no_latency() -> None:
    assert latency_stats([]) == {"mean": None, "median": None, "std": None, "p90": None, "p99": None}


@pytest.mark.parametrize("p", [0, 1, 50, 90, 99, 100], ids=lambda p: f"p{p} equals numpy's")
def test_percentile_matches_numpy(p: float) -> None:
    numpy = pytest.importorskip("numpy")
    values = [random.Random(seed).uniform(0, 100) for seed in range(37)]
    assert percentile(values, p) == pytest.approx(float(numpy.percentile(values, p)))


@pytest.mark.parametrize(
    ("bandwidth", "size", "measured", "ceiling", "fraction"),
    [
        pytest.param(
            1000.0,
            2_000_000_000,
            250.0,
            500.0,
            0.5,
            id="1 TB/s over 2 GB of weights caps decode at 500 tok/s",
        ),
        pytest.param(
            3350.0, 16_400_000_000, None, 3350 / 16.4, None, id="no measurement leaves the fraction empty"
        ),
    ],
)
def test_roofline_is_bandwidth_over_bytes_per_token(bandwidth, size, measured, ceiling, fraction) -> None:
    roof = Roofline(bandwidth, size, measured)
    assert roof.tokens_per_s == pytest.approx(ceiling)
    assert roof.fraction == (None if fraction is None else pytest.approx(fraction))


@pytest.mark.parametrize(
    ("tpot_ms", "rate"),
    [
        pytest.param(4.0, 250.0, id="4 ms per token is 250 tokens per second"),
        pytest.param(None, None, id="no TPOT, no rate"),
    ],
)
def test_decode_rate_from_tpot(tpot_ms, rate) -> None:
    assert decode_rate_from_tpot(tpot_ms) == rate


def test_weights_bytes_counts_only_weight_files(tmp_path) -> None:
    (tmp_path / "model-00001.safetensors").write_bytes(b"x" * 300)
    (tmp_path / "model-00002.safetensors").write_bytes(b"x" * 200)
    (tmp_path / "tokenizer.json").write_bytes(b"x" * 999)
    assert weights_bytes(tmp_path) == 500


@pytest.mark.parametrize("kind", ["random", "fixed"])
def test_prompts_have_the_requested_length_and_are_reproducible(kind: str) -> None:
    prompts = make_prompts(5, 40, kind=kind, seed=3)
    assert len(prompts) == 5
    assert all(len(p.split()) == 40 for p in prompts)
    assert prompts == make_prompts(5, 40, kind=kind, seed=3)


def test_random_prompts_differ_from_each_other() -> None:
    assert len(set(make_prompts(5, 40, kind="random"))) == 5


def test_an_unknown_prompt_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="fixed or random"):
        make_prompts(1, 10, kind="poetry")
