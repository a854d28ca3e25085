"""A default the user never set must not cause a rejection: with max_model_len unset and the model's full
context not fitting, the longest length that fits is chosen (like vLLM 0.33's `--max-model-len auto`), and
`validate`, `plan` and the rendered command line all say which."""

from __future__ import annotations

import re
from pathlib import Path

from tests.cli_helpers import run_cli

# Llama-3.1-8B (128K context) as int4 AWQ on a 24 GB RTX 3090: weights fit, 128K tokens of KV do not.
RECIPE = """\
name: llama-3090
model: meta-llama/Llama-3.1-8B
gpu: "RTX 3090"
quantization: w4a16_awq
engine: trtllm
runtime: process
serve:
  host: 127.0.0.1
"""


def test_the_longest_fitting_length_is_chosen_and_said(tmp_path: Path) -> None:
    recipe = tmp_path / "llama.yaml"
    recipe.write_text(RECIPE)

    validated = run_cli("validate", str(recipe))
    assert validated.exit_code == 0, validated.output
    chosen = int(re.search(r"deployctl will use (\d+)", validated.stderr)[1])
    assert 2048 <= chosen < 131072

    planned = run_cli("plan", str(recipe))
    assert planned.exit_code == 3, planned.output
    assert f"using max_model_len {chosen}, the longest that fits" in planned.stderr

    composed = run_cli("compose", str(recipe))
    assert composed.exit_code == 0, composed.output
    assert re.search(rf"--max_seq_len\s*\n\s*- '{chosen}'", composed.stdout), composed.stdout


def test_a_length_the_user_set_is_judged_as_set(tmp_path: Path) -> None:
    recipe = tmp_path / "llama.yaml"
    recipe.write_text(RECIPE.replace("engine: trtllm", "engine:\n  name: trtllm\n  max_model_len: 131072"))
    result = run_cli("validate", str(recipe))
    assert result.exit_code == 1
    assert f"{recipe}:7 (engine.max_model_len)" in result.stderr
