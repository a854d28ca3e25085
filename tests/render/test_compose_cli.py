"""`deployctl compose`: writes what the renderer produces, refuses rejected recipes, exit codes as documented."""

from __future__ import annotations

import json

import yaml

from tests.cli_helpers import run_cli
from tests.render.conftest import REPO, rendered_text


def test_compose_to_a_file_writes_the_committed_file_byte_for_byte(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(REPO)
    target = tmp_path / "out" / "q.yaml"
    result = run_cli("compose", "recipes/qwen3-8b-h100-fp8.yaml", "--portable", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert target.read_text() == rendered_text("recipes/qwen3-8b-h100-fp8.yaml")


def test_compose_without_output_prints_the_yaml(tmp_path) -> None:
    result = run_cli("compose", str(REPO / "recipes" / "quickstart-cpu.yaml"), "--portable")
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(result.stdout)["services"]["quickstart"]["image"].startswith("localhost/deployctl/")


def test_compose_out_dir_names_files_after_the_recipes(tmp_path) -> None:
    recipes = [REPO / "recipes" / "tiny-vllm-cpu.yaml", REPO / "recipes" / "qwen3-8b-a100-fp8.yaml"]
    result = run_cli("--json", "compose", *map(str, recipes), "--portable", "--out-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.glob("*.yaml")) == ["qwen3-8b-a100-fp8.yaml", "tiny-vllm-cpu.yaml"]
    assert len(json.loads(result.stdout)["files"]) == 2
    assert "Warning" in result.stderr and "Marlin" in result.stderr  # the fallback is announced


def test_a_rejected_recipe_is_not_rendered(tmp_path) -> None:
    target = tmp_path / "x.yaml"
    result = run_cli(
        "compose", str(REPO / "recipes" / "rejected" / "qwen3-8b-h100-awq-vllm.yaml"), "-o", str(target)
    )
    assert result.exit_code == 1
    assert "AWQ" in result.stderr
    assert not target.exists()


def test_one_output_file_for_several_recipes_is_a_usage_error(tmp_path) -> None:
    recipes = [str(REPO / "recipes" / "tiny-vllm-cpu.yaml"), str(REPO / "recipes" / "quickstart-cpu.yaml")]
    result = run_cli("compose", *recipes, "-o", str(tmp_path / "x.yaml"))
    assert result.exit_code == 2
    assert "--out-dir" in result.stderr
