"""`deployctl plan` says where calibration will run and why, or refuses before any side effect.

The real CLI on a tiny local model with the process runtime: the room is observed for real (NVML when
the machine has it, MemAvailable, free disk), so the placement is whatever this machine allows; the
refusals do not depend on it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from deployctl import settings
from tests.cli_helpers import run_cli
from tests.launch_helpers import tiny_model_dir


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model_dir(tmp_path_factory.getbasetemp())


def write_recipe(folder: Path, model: Path, **quantization) -> Path:
    recipe = {
        "name": "placed",
        "model": {"path": str(model)},
        "gpu": "H100 SXM",  # where it would be served; calibration placement is observed separately
        "quantization": {"format": "fp8", "calibration": {"samples": 8, "seq_len": 64}, **quantization},
        "engine": "vllm",
        "runtime": "process",
    }
    path = folder / "placed.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def _footprint() -> list[str]:
    home = settings.home()
    return sorted(str(p.relative_to(home)) for p in home.rglob("*")) if home.exists() else []


def test_the_plan_names_where_calibration_runs_and_its_estimate(tiny: Path, tmp_path: Path) -> None:
    path = write_recipe(tmp_path, tiny)
    human = run_cli("plan", str(path))
    assert human.exit_code == 3, human.output
    quantize_line = next(line for line in human.output.splitlines() if line.strip().startswith("quantize"))
    assert "calibration on" in quantize_line and "peak ~" in quantize_line and " s (" in quantize_line

    data = json.loads(run_cli("--json", "plan", str(path)).stdout)
    placed = data["calibration"]
    assert placed["kind"] in ("gpu", "gpus", "gpu+cpu", "cpu", "cpu+disk") and placed["seconds"] >= 0
    assert placed["reason"] in quantize_line


def test_device_cpu_is_what_the_plan_says(tiny: Path, tmp_path: Path) -> None:
    data = json.loads(run_cli("--json", "plan", str(write_recipe(tmp_path, tiny, device="cpu"))).stdout)
    assert (data["calibration"]["kind"], data["calibration"]["device"]) == ("cpu", "cpu")
    assert "quantization.device: cpu" in data["calibration"]["reason"]


@pytest.mark.parametrize(
    ("quantization", "says"),
    [
        ({"device": "cuda:63"}, ["cuda:63 is not a GPU of this machine"]),
        ({"device": "cpu", "max_cpu_memory_gib": 1e-6}, ["nowhere to calibrate", "quantization.device: cpu"]),
    ],
    ids=["a GPU this machine does not have", "a host cap too small for even the embeddings"],
)
def test_an_impossible_placement_is_refused_before_any_side_effect(
    tiny: Path, tmp_path: Path, quantization: dict, says: list[str]
) -> None:
    path = write_recipe(tmp_path, tiny, **quantization)
    before = _footprint()
    for verb in ("plan", "apply"):
        result = run_cli(verb, str(path))
        assert result.exit_code == 1, result.output
        assert all(word in result.output for word in says), result.output
        assert f"{path}" in result.output and "quantization.device" in result.output
    assert _footprint() == before, "a refused recipe left files behind"


@pytest.mark.integration
@pytest.mark.quantize
def test_the_quantize_step_calibrates_where_the_plan_said(tiny: Path, tmp_path: Path) -> None:
    """What apply does between plan and engine: the plan's placement goes to the quantize step as is."""
    from deployctl.apply import World, plan_recipe
    from deployctl.plan import Observed
    from deployctl.quantize.pipeline import prepare
    from deployctl.recipe.load import load_recipe

    recipe = load_recipe(write_recipe(tmp_path, tiny, device="cpu"))
    planned = plan_recipe(recipe, World(runtime=None, previous=None, handles={}, observed=Observed()))
    assert planned.calibration is not None and planned.calibration.device == "cpu"

    prepared = prepare(recipe, progress=False, placement=planned.calibration)
    used = prepared.manifest.calibration
    assert used["placement"] == planned.calibration.model_dump(mode="json")
    assert used["measured_host_peak_bytes"] > 0 and prepared.manifest.device == "cpu"
