"""`deployctl render`: what a user sees — files written, refusals with exit codes."""

from __future__ import annotations

import os

import pytest

from tests.cli_helpers import run_cli
from tests.render.test_kubernetes import GOLDEN, REPO


@pytest.fixture(autouse=True)
def _in_repository():
    """Recipe paths in file headers are written as given: run from the repository like a user would."""
    previous = os.getcwd()
    os.chdir(REPO)
    yield
    os.chdir(previous)


def test_render_writes_the_golden_file_into_the_output_folder(tmp_path) -> None:
    result = run_cli(
        "render", "--target", "deployment", "recipes/qwen3-8b-h100-fp8.yaml", "-o", str(tmp_path)
    )
    assert result.exit_code == 0, result.output
    written = tmp_path / "qwen3-8b-h100-fp8.deployment.yaml"
    assert written.read_text() == (GOLDEN / written.name).read_text()


def test_a_refused_target_exits_1_with_the_reason_and_the_fix(tmp_path) -> None:
    result = run_cli("render", "--target", "lws", "recipes/qwen3-8b-h100-fp8.yaml", "-o", str(tmp_path))
    assert result.exit_code == 1
    assert "gpu.nodes" in result.stderr and "--target deployment" in result.stderr
    assert not list(tmp_path.iterdir())


def test_an_unknown_target_is_a_usage_error() -> None:
    result = run_cli("render", "--target", "helm", "recipes/qwen3-8b-h100-fp8.yaml")
    assert result.exit_code == 2
    assert "compose, deployment, lws, dynamo" in result.stderr
