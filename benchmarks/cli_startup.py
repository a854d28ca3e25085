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


def wall_time(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def interleaved_wall_times(first: list[str], second: list[str], runs: int) -> tuple[list[float], list[float]]:
    """`runs` wall times of each command, taken in alternating pairs (A B, B A, ...).

    Load on a shared machine drifts over seconds; timing all of one command and then all of the other
    lets that drift land on one side of the ratio. Pairs see the same load, and alternating which goes
    first cancels any advantage of running right after the other.
    """
    first_times, second_times = [], []
    for run in range(runs):
        if run % 2 == 0:
            first_times.append(wall_time(first))
            second_times.append(wall_time(second))
        else:
            second_times.append(wall_time(second))
            first_times.append(wall_time(first))
    return first_times, second_times


def heavy_modules_loaded() -> list[str]:
    probe = f"import sys, deployctl.cli.main; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    return subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    python = sys.executable
    typer_only, cli_help = [python, "-c", "import typer"], [python, "-m", "deployctl", "--help"]
    interleaved_wall_times(typer_only, cli_help, 2)  # warm-up: both commands see a warm page cache
    baseline, cli = interleaved_wall_times(typer_only, cli_help, runs)
    base_med, cli_med = statistics.median(baseline), statistics.median(cli)
    print(f"{'command':<34} {'median ms':>10} {'min ms':>8} {'ratio':>7}")
    label = 'python -c "import typer"'
    print(f"{label:<34} {base_med * 1e3:>10.1f} {min(baseline) * 1e3:>8.1f} {1.0:>7.2f}")
    print(
        f"{'deployctl --help':<34} {cli_med * 1e3:>10.1f} {min(cli) * 1e3:>8.1f} {cli_med / base_med:>7.2f}"
    )
    heavy = heavy_modules_loaded()
    print(f"heavy modules imported by the CLI: {', '.join(heavy) if heavy else 'none'}")
    print(f"target ≤ 1.30×: {'met' if cli_med / base_med <= 1.3 else 'NOT met'}")


if __name__ == "__main__":
    main()
