"""What the front costs a client, measured with `deployctl bench` through the front and around it
(the engine's own port), interleaved in one run. The engine is the stdlib fake streaming one event
every 20 ms, steadier than a real CPU engine (which varies by tens of ms between runs here;
tests/apply/test_front.py measures one anyway)."""

from __future__ import annotations

import json
import statistics

import pytest

from deployctl.front.config import FrontSpec
from deployctl.front.haproxy import HaproxyFront, socket_path
from tests.cli_helpers import run_cli
from tests.launch_helpers import free_port

pytestmark = pytest.mark.integration


def bench(url: str) -> dict:
    done = run_cli(
        "--json", "bench", url, "--api", "chat", "--model", "fake-model", "--concurrency", "1",
        "--num-prompts", "24", "--input-len", "8", "--output-len", "3",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    level = json.loads(done.stdout)["levels"][0]
    assert level["failed"] == 0 and level["completed"] == 24
    return level


def test_the_front_passes_each_token_through_at_once(haproxy, fake_engine) -> None:
    engine = fake_engine("slow-stream:0.02")
    front = HaproxyFront("overhead")
    spec = FrontSpec(
        deployment="overhead",
        bind_host="127.0.0.1",
        bind_port=free_port(),
        socket_path=socket_path("overhead"),
    )
    try:
        front.start(spec, key=None, upstream=("127.0.0.1", engine))
        urls = {"front": spec.public_url, "engine": f"http://127.0.0.1:{engine}"}
        runs: dict[str, list[dict]] = {"front": [], "engine": []}
        for _ in range(3):
            for where, url in urls.items():
                runs[where].append(bench(url))
    finally:
        front.remove()
    ttft = {w: statistics.median(r["median_ttft_ms"] for r in rs) for w, rs in runs.items()}
    tpot = {w: statistics.median(r["median_tpot_ms"] for r in rs) for w, rs in runs.items()}
    extra_ttft, extra_tpot = ttft["front"] - ttft["engine"], tpot["front"] / tpot["engine"] - 1
    print(
        f"front overhead at batch 1: TTFT {ttft['front']:.2f} vs {ttft['engine']:.2f} ms ({extra_ttft:+.2f} ms), "
        f"TPOT {tpot['front']:.2f} vs {tpot['engine']:.2f} ms ({100 * extra_tpot:+.2f} %)"
    )
    # Targets (issue 18): ≤ 1 ms TTFT, ≤ 1 % TPOT at a real engine's TPOT, on an idle host: the GPU
    # script (benchmarks/gpu/swap_front.sh) measures those. Here, with the team's tests sharing 2 cores
    # (load ~13), runs of the same engine differ by up to ~4 ms, so this checks what noise cannot hide:
    # a front that buffered or held chunks back (Nagle: ~40-200 ms) would add tens of ms per token.
    assert abs(extra_ttft) <= 5.0 and tpot["front"] - tpot["engine"] <= 5.0
