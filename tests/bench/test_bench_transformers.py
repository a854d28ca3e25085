"""`deployctl bench` against a real engine: transformers serve on CPU, a few requests, bounded in time."""

from __future__ import annotations

import json

import pytest

from deployctl.bench.run import BenchConfig, run_bench
from tests.cli_helpers import run_cli

pytestmark = pytest.mark.integration

OUTPUT_LEN = 6


@pytest.fixture(scope="module")
def report(tiny_server):
    url, model = tiny_server
    config = BenchConfig(
        base_url=f"{url}/v1",
        model=str(model),
        concurrency=(1, 2),
        num_prompts=3,
        input_len=16,
        output_len=OUTPUT_LEN,
        duration_s=60,
        request_timeout_s=60,
    )
    return run_bench(config, bandwidth_gb_s=100.0, model_bytes=1_000_000)


def test_every_request_of_every_level_is_answered(report) -> None:
    assert [(lv["max_concurrency"], lv["completed"], lv["failed"]) for lv in report.levels] == [
        (1, 3, 0),
        (2, 3, 0),
    ]


def test_token_counts_come_from_the_servers_usage(report) -> None:
    for level in report.levels:
        assert level["total_input_tokens"] > 0
        assert 0 < level["total_output_tokens"] <= 3 * OUTPUT_LEN


def test_latencies_are_ordered_as_their_definitions_require(report) -> None:
    for level in report.levels:
        assert 0 < level["median_ttft_ms"] <= level["median_e2el_ms"]
        assert level["output_throughput"] > 0


def test_a_server_without_ignore_eos_is_benched_without_it(report) -> None:
    # transformers serve answers 422 to unknown request fields; the run goes on and says so.
    assert report.ignore_eos_used is False


def test_the_roofline_fraction_is_measured_decode_over_the_ceiling(report) -> None:
    roof = report.roofline
    assert roof["roofline_tokens_per_s"] == pytest.approx(100e9 / 1e6)
    assert roof["roofline_fraction"] == pytest.approx(roof["measured_decode_tokens_per_s"] / 100_000)


def test_the_cli_writes_a_json_report_with_vllm_keys(tiny_server, tmp_path) -> None:
    url, model = tiny_server
    target = tmp_path / "bench.json"
    result = run_cli(
        "--json", "bench", url, "--model", str(model), "--num-prompts", "2",
        "--input-len", "8", "--output-len", "4", "--duration", "60", "-o", str(target),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    printed, written = json.loads(result.stdout), json.loads(target.read_text())
    assert printed["levels"] == written["levels"]
    assert {"mean_ttft_ms", "median_tpot_ms", "p99_itl_ms", "output_throughput"} <= set(written["levels"][0])


def test_an_unreachable_endpoint_is_a_clear_error(tmp_path) -> None:
    from tests.launch_helpers import free_port

    result = run_cli("bench", f"http://127.0.0.1:{free_port()}", "--model", "m", "--timeout", "5")
    assert result.exit_code == 1
    assert "failed the warm-up request" in result.stderr
