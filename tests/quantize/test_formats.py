"""The recipe's format names map to real Model Optimizer constants and export strings."""

from __future__ import annotations

import pytest

from deployctl.quantize.formats import (
    FORMATS,
    KV_FORMATS,
    format_plan,
    is_quantized,
    kv_plan,
    needs_cuda_forward,
)
from deployctl.recipe.model import KvCacheFormat, QuantFormat


@pytest.mark.parametrize(
    ("fmt", "config_name", "quant_algo"),
    [
        (QuantFormat.FP8, "FP8_DEFAULT_CFG", "FP8"),
        (QuantFormat.FP8_PC_PT, "FP8_PER_CHANNEL_PER_TOKEN_CFG", "FP8_PER_CHANNEL_PER_TOKEN"),
        (QuantFormat.NVFP4, "NVFP4_DEFAULT_CFG", "NVFP4"),
        (QuantFormat.W4A16_AWQ, "INT4_AWQ_CFG", "W4A16_AWQ"),
        (QuantFormat.W4A8_AWQ, "W4A8_AWQ_BETA_CFG", "W4A8_AWQ"),
        (QuantFormat.INT8_SQ, "INT8_SMOOTHQUANT_CFG", "W8A8_SQ_PER_CHANNEL"),
    ],
    ids=lambda value: getattr(value, "value", value),
)
def test_each_format_names_its_modelopt_preset_and_export_algo(fmt, config_name, quant_algo):
    plan = format_plan(fmt)
    assert plan is not None
    assert (plan.config_name, plan.quant_algo) == (config_name, quant_algo)


def test_every_recipe_format_but_none_has_a_plan():
    assert set(FORMATS) == set(QuantFormat) - {QuantFormat.NONE}
    assert set(KV_FORMATS) == set(KvCacheFormat) - {KvCacheFormat.NONE}
    assert format_plan(QuantFormat.NONE) is None and kv_plan(KvCacheFormat.NONE) is None


@pytest.mark.parametrize(
    ("fmt", "kv", "cuda_only"),
    [
        (QuantFormat.FP8, KvCacheFormat.FP8, False),
        (QuantFormat.NVFP4, KvCacheFormat.NONE, True),
        (QuantFormat.FP8, KvCacheFormat.NVFP4, True),
        (QuantFormat.W4A16_AWQ, KvCacheFormat.NONE, False),
    ],
    ids=["fp8 with fp8 kv runs on cpu", "nvfp4 weights need cuda", "nvfp4 kv needs cuda", "awq runs on cpu"],
)
def test_which_formats_need_cuda_for_a_forward_pass(fmt, kv, cuda_only):
    assert needs_cuda_forward(fmt, kv) is cuda_only


@pytest.mark.parametrize(
    ("fmt", "kv", "quantized"),
    [
        (QuantFormat.NONE, KvCacheFormat.NONE, False),
        (QuantFormat.NONE, KvCacheFormat.FP8, True),
        (QuantFormat.FP8, KvCacheFormat.NONE, True),
    ],
    ids=["none serves the base model", "kv cache alone is a quantization", "fp8 is a quantization"],
)
def test_none_means_the_base_model(fmt, kv, quantized):
    assert is_quantized(fmt, kv) is quantized


@pytest.mark.integration
@pytest.mark.quantize
def test_every_named_constant_exists_in_the_installed_model_optimizer():
    import modelopt.torch.quantization as mtq

    names = [p.config_name for p in FORMATS.values()] + [p.config_name for p in KV_FORMATS.values()]
    missing = [name for name in names if not isinstance(getattr(mtq, name, None), dict)]
    assert missing == []
