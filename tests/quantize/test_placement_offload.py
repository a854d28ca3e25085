"""Calibration under a memory cap exports the same checkpoint as without it (real Model Optimizer).

On this CPU-only machine the analogue of "a capped GPU share, the rest offloaded" is the CPU capped by
`quantization.max_cpu_memory_gib`, the rest of the model in an offload folder on disk: accelerate's
`device_map="auto"` + `max_memory` + `offload_folder`, the same dispatch a GPU placement uses
(Model Optimizer hf_ptq.py `--offload_folder --max_cpu_memory_gb`). The H200 run measured the GPU case.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from deployctl.capability.catalogue import GIB
from deployctl.capability.shapes import shape_from_config_file
from deployctl.quantize.pipeline import prepare
from deployctl.quantize.quantizer import weights_size
from deployctl.quantize.room import calibration_job
from tests.quantize.conftest import env, make_recipe

pytestmark = [pytest.mark.integration, pytest.mark.quantize]


def _tensors(folder: Path) -> dict:
    from safetensors.torch import load_file

    found: dict = {}
    for file in sorted(folder.glob("*.safetensors")):
        found.update(load_file(file))
    return found


def test_a_capped_calibration_with_disk_offload_exports_the_same_tensors(
    tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    import torch

    model = tiny_models["llama"]  # untied: the lm_head can go to disk while the embeddings stay in RAM
    job = calibration_job(make_recipe(str(model)).quantization, shape_from_config_file(model / "config.json"),
                          weights_size(model))  # fmt: skip
    cap = job.first_device_bytes * 1.05  # the least a CPU heading the map may hold: the rest goes to disk
    assert cap < 0.9 * weights_size(model)
    cap_gib = cap / GIB
    runs = {}
    for name, extra in (
        ("whole", {"device": "cpu"}),
        ("capped", {"device": "cpu", "max_cpu_memory_gib": cap_gib}),
    ):
        with env(DEPLOYCTL_CACHE=str(tmp_path / name), HF_HUB_OFFLINE="1"):
            runs[name] = prepare(make_recipe(str(model), "fp8", **extra), progress=False)

    placed = runs["capped"].manifest.calibration["placement"]
    assert (placed["kind"], placed["device_map"], placed["offload_to_disk"]) == ("cpu+disk", "auto", True)
    assert placed["max_memory"]["cpu"] <= cap
    modules_on = runs["capped"].manifest.calibration["modules_on"]
    assert modules_on.get("cpu") and modules_on.get("disk"), modules_on  # accelerate really split it
    assert runs["whole"].manifest.calibration["placement"]["kind"] == "cpu"
    assert runs["capped"].checkpoint.key == runs["whole"].checkpoint.key  # placement is not in the key
    assert not list((tmp_path / "capped").glob(".tmp-*")), "the offload folder outlives the run"

    whole, capped = _tensors(runs["whole"].checkpoint.path), _tensors(runs["capped"].checkpoint.path)
    assert whole.keys() == capped.keys() and len(whole) > 10
    differ = [
        key for key in whole
        if whole[key].dtype != capped[key].dtype
        or not torch.allclose(whole[key].float(), capped[key].float(), rtol=0, atol=1e-6)
    ]  # fmt: skip
    assert differ == [], f"{len(differ)} of {len(whole)} tensors differ: {differ[:5]}"
    quality = runs["capped"].manifest.quality, runs["whole"].manifest.quality
    assert quality[0].perplexity_quant == pytest.approx(quality[1].perplexity_quant, rel=1e-5)
