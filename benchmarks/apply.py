"""deployctl's own overhead in `apply`, and the no-op re-apply, on the CPU quickstart engine.

In one run, in a fresh DEPLOYCTL_HOME: apply the quickstart recipe (transformers serve on CPU, tiny
generated model) on a free loopback port, then apply it again unchanged, then destroy it.
- overhead = apply total − engine start (launch → healthy) − checkpoint (model generation/quantization)
  − smoke test: what deployctl itself adds (validation, planning, state, process bookkeeping);
- no-op = the second apply, in-process and as a fresh `deployctl apply` process (target < 1 s in-process).

    python benchmarks/apply.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    os.environ["DEPLOYCTL_HOME"] = tempfile.mkdtemp(prefix="deployctl-bench-apply-")
    from deployctl.apply import apply_recipe
    from deployctl.deployments import destroy_deployment
    from deployctl.recipe.load import load_recipe

    data = yaml.safe_load((REPO / "recipes" / "quickstart-cpu.yaml").read_text())
    data["serve"]["port"] = free_port()
    recipe_file = Path(os.environ["DEPLOYCTL_HOME"]) / "quickstart.yaml"
    recipe_file.write_text(yaml.safe_dump(data))
    recipe = load_recipe(recipe_file)
    rows = []
    for _ in range(args.runs):
        started = time.perf_counter()
        first = apply_recipe(recipe, recipe_path=recipe_file)
        total = time.perf_counter() - started
        t = first.timings
        overhead = total - t.get("engine_start", 0) - t.get("checkpoint", 0) - t.get("smoke", 0)
        started = time.perf_counter()
        again = apply_recipe(recipe, recipe_path=recipe_file)
        noop = time.perf_counter() - started
        assert not again.changed, "the second apply must be a no-op"
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "deployctl", "apply", str(recipe_file)], check=True,
                       capture_output=True)  # fmt: skip
        noop_cli = time.perf_counter() - started
        destroy_deployment(recipe.name)
        rows.append(
            (
                total,
                t.get("engine_start", 0),
                t.get("checkpoint", 0),
                t.get("smoke", 0),
                overhead,
                noop,
                noop_cli,
            )
        )
    print(f"{'':<24}{'median s':>10}{'min s':>8}")
    names = ["apply total", "engine start", "checkpoint", "smoke", "deployctl overhead", "no-op (in-process)",
             "no-op (new process)"]  # fmt: skip
    for i, name in enumerate(names):
        values = [row[i] for row in rows]
        print(f"{name:<24}{statistics.median(values):>10.3f}{min(values):>8.3f}")
    print(
        f"overhead share of apply: {statistics.median(r[4] / r[0] for r in rows):.1%}; no-op target < 1 s: "
        f"{'met' if statistics.median(r[5] for r in rows) < 1 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
