"""check_checkpoint on real Model Optimizer exports of tiny models: good ones pass, a corrupted copy does not."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest

from deployctl.checkpoint_check import check_checkpoint

pytestmark = [pytest.mark.integration, pytest.mark.quantize]


def errors(folder: Path, **kwargs) -> list[str]:
    findings = check_checkpoint(folder, engine="vllm", engine_version="0.33.0", **kwargs)
    return [f.line() for f in findings if f.level == "error"]


@pytest.mark.parametrize(
    ("arch", "fmt", "kv"),
    [("qwen3", "fp8", "fp8"), ("llama", "fp8_pc_pt", "none"), ("llama", "nvfp4", "none")],
    ids=["qwen3 fp8 with fp8 kv", "llama fp8_pc_pt", "llama nvfp4"],
)
def test_good_exports_of_formats_vllm_serves_pass(quantized, arch: str, fmt: str, kv: str) -> None:
    assert errors(quantized(arch, fmt, kv).checkpoint.path) == []


def test_an_int8_smoothquant_export_is_refused_for_vllm_by_its_quant_algo(quantized) -> None:
    found = errors(quantized("qwen3", "int8_sq").checkpoint.path)
    assert len(found) == 1 and "W8A8_SQ_PER_CHANNEL is not served by vllm 0.33.0" in found[0]


def test_a_real_export_with_one_scale_zeroed_is_refused_naming_it(quantized, tmp_path: Path) -> None:
    copy = tmp_path / "broken"
    shutil.copytree(quantized("qwen3", "fp8", "fp8").checkpoint.path, copy)
    shard = copy / "model.safetensors"
    raw = bytearray(shard.read_bytes())
    (length,) = struct.unpack("<Q", raw[:8])
    name = "model.layers.1.mlp.down_proj.input_scale"
    begin, end = json.loads(raw[8 : 8 + length])[name]["data_offsets"]
    raw[8 + length + begin : 8 + length + end] = b"\0" * (end - begin)
    shard.write_bytes(bytes(raw))
    found = errors(copy)
    assert len(found) == 1 and found[0].startswith(name)


def test_fixed_kv_scales_export_fp8_kv_without_scale_tensors(tiny_models, session_cache) -> None:
    """Model Optimizer's fp8_cast form: kv_cache_quant_algo FP8 and not one k_scale/v_scale tensor."""
    from deployctl.quantize.pipeline import prepare
    from tests.quantize.conftest import env, make_recipe

    recipe = make_recipe(str(tiny_models["qwen3"]), "fp8", "fp8", kv_cache_scales="fixed")
    with env(DEPLOYCTL_CACHE=str(session_cache), HF_HUB_OFFLINE="1"):
        folder = prepare(recipe, progress=False).checkpoint.path
    section = json.loads((folder / "hf_quant_config.json").read_text())["quantization"]
    assert section["kv_cache_quant_algo"] == "FP8"
    (length,) = struct.unpack("<Q", (folder / "model.safetensors").read_bytes()[:8])
    names = json.loads((folder / "model.safetensors").read_bytes()[8 : 8 + length])
    assert not [n for n in names if n.endswith(("k_scale", "v_scale"))]
    assert errors(folder, kv_scales_fixed=True) == []
    assert len(errors(folder)) == 2 * 2  # the calibrated form would miss k and v scales on both layers
