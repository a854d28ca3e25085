"""`deployctl --help` wall time as a ratio to `python -c "import typer"`, measured in the same run.

Target ≤ 1.3×: the CLI must not import torch, modelopt, docker, openai or huggingface_hub to print help.
Run: python benchmarks/cli_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

HEAVY = ("torch", "modelopt", "docker", "openai", "huggingface_hub", "transformers", "httpx")


def wall_times(argv: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def heavy_modules_loaded() -> list[str]:
    probe = f"import sys, deployctl.cli.main; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    python = sys.executable
    # Interleave warm-up so both commands see a warm page cache.
    wall_times([python, "-c", "import typer"], 2)
    wall_times([python, "-m", "deployctl", "--help"], 2)
    baseline = wall_times([python, "-c", "import typer"], runs)
    cli = wall_times([python, "-m", "deployctl", "--help"], runs)
    base_med, cli_med = statistics.median(baseline), statistics.median(cli)
    print(f"{'command':<34} {'median ms':>10} {'min ms':>8} {'ratio':>7}")
    label = 'python -c "import typer"'
    print(f"{label:<34} {base_med * 1e3:>10.1f} {min(baseline) * 1e3:>8.1f} {1.0:>7.2f}")
    print(f"{'deployctl --help':<34} {cli_med * 1e3:>10.1f} {min(cli) * 1e3:>8.1f} {cli_med / base_med:>7.2f}")
    heavy = heavy_modules_loaded()
    print(f"heavy modules imported by the CLI: {', '.join(heavy) if heavy else 'none'}")
    print(f"target ≤ 1.30×: {'met' if cli_med / base_med <= 1.3 else 'NOT met'}")


if __name__ == "__main__":
    main()
