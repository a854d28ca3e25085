"""One swap through the front on the GPU machine, with a client polling the public port every 100 ms.

    python3 benchmarks/gpu/swap_front.py OUT SCENARIO RECIPE [--port 8000]

Runs `deployctl --json apply RECIPE` while a thread sends a one-token completion to the public port
every 100 ms (10 s timeout), then appends one object to OUT/swap.json: scenario, strategy (the plan's
engine step), requests, failed_requests (anything but a 200: refused, reset, timed out, or 503),
downtime_s (the summed length of the runs of failed polls, first failure → next success), the 503s
among the failures, deployctl's own downtime and timings, and where calibration ran with its measured
peak beside the plan's estimate (null when the apply calibrated nothing). The apply's JSON and its
log go to OUT/apply-SCENARIO.{json,log}.
"""

from __future__ import annotations

import argparse
import http.client
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

POLL_S = 0.1


class Poller(threading.Thread):
    def __init__(self, port: int, model: str) -> None:
        super().__init__(daemon=True)
        self.port, self.model = port, model
        self.results: list[tuple[float, int | str]] = []  # (monotonic time, status or error)
        self.stop = threading.Event()

    def run(self) -> None:
        body = json.dumps({"model": self.model, "prompt": "Hi", "max_tokens": 1})
        while not self.stop.is_set():
            sent = time.monotonic()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                conn.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                conn.close()
                outcome: int | str = response.status
            except (OSError, http.client.HTTPException) as exc:
                outcome = type(exc).__name__
            self.results.append((sent, outcome))
            time.sleep(max(0.0, POLL_S - (time.monotonic() - sent)))


def downtime(results: list[tuple[float, int | str]]) -> float:
    total, down_since = 0.0, None
    for at, outcome in results:
        if outcome != 200 and down_since is None:
            down_since = at
        elif outcome == 200 and down_since is not None:
            total, down_since = total + at - down_since, None
    if down_since is not None and results:
        total += results[-1][0] - down_since
    return round(total, 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("scenario")
    parser.add_argument("recipe", type=Path)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--model", default="m")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    poller = Poller(args.port, args.model)
    poller.start()
    time.sleep(1.0)
    with open(args.out / f"apply-{args.scenario}.log", "w") as log:
        done = subprocess.run(
            [sys.executable, "-m", "deployctl", "--json", "apply", str(args.recipe)],
            stdout=subprocess.PIPE, stderr=log, text=True,
        )  # fmt: skip
    time.sleep(2.0)
    poller.stop.set()
    poller.join()
    (args.out / f"apply-{args.scenario}.json").write_text(done.stdout)
    applied = json.loads(done.stdout) if done.returncode == 0 and done.stdout.strip() else {}
    failures = [o for _, o in poller.results if o != 200]
    calibration = calibration_fields(applied)
    row = {
        "scenario": args.scenario,
        "strategy": _strategy(applied),
        "requests": len(poller.results),
        "failed_requests": len(failures),
        "downtime_s": downtime(poller.results),
        **calibration,
        "answers_503": sum(1 for o in failures if o == 503),
        "other_failures": sorted({str(o) for o in failures if o != 503}),
        "deployctl_exit_code": done.returncode,
        "deployctl_downtime_s": applied.get("downtime_s"),
        "timings": applied.get("timings"),
    }
    path = args.out / "swap.json"
    rows = json.loads(path.read_text()) if path.exists() else []
    path.write_text(json.dumps([*rows, row], indent=2) + "\n")
    print(json.dumps(row))
    sys.exit(done.returncode)


def calibration_fields(applied: dict) -> dict:
    """Where this apply calibrated (the plan's placement), the plan's GPU peak estimate and the peak
    measured there (the checkpoint's manifest); null when the apply calibrated nothing (cache hit)."""
    placement = applied.get("calibration") or {}
    estimate = max((placement.get("gpu_peak_bytes") or {}).values(), default=None)
    measured = None
    if placement and applied.get("checkpoint"):
        from deployctl.quantize.manifest import read_manifest

        manifest = read_manifest(Path(applied["checkpoint"]))
        if manifest is not None and manifest.calibration:
            measured = max(manifest.calibration.get("measured_gpu_peak_bytes", {}).values(), default=None)
    return {
        "calibration_device": placement.get("device"),
        "calibration_peak_gib": round(measured / 2**30, 2) if measured else None,
        "calibration_estimate_gib": round(estimate / 2**30, 2) if estimate else None,
    }


def _strategy(applied: dict) -> str | None:
    """The plan's engine step, from `deployctl --json apply`'s operations."""
    kinds = [op.get("kind") for op in applied.get("operations", [])]
    return next((k for k in kinds if k in ("create", "replace", "blue-green", "keep", "restart")), None)


if __name__ == "__main__":
    main()
