"""Recipe format names → Model Optimizer config constants and what the export will say (pure data).

Every row was checked against nvidia-modelopt 0.47.0 as installed:
- constants: `modelopt/torch/quantization/config.py` (l.1681–1778, each loads a preset YAML from
  `modelopt_recipes/configs/ptq/presets/{model,kv}/`);
- exported `quant_algo` strings: `process_layer_quant_config()` in `modelopt/torch/export/quant_utils.py`
  (l.708–767), written to `hf_quant_config.json` by `export_hf_checkpoint`
  (`modelopt/torch/export/unified_export_hf.py`);
- exported `kv_cache_quant_algo`: `_compute_kv_cache_dtype()` in the same quant_utils.py;
- KV entries are appended with `mtq.update_quant_cfg_with_kv_cache_quant(cfg, KV_CFG["quant_cfg"])`
  (`modelopt/torch/quantization/utils/core_utils.py` l.1050).
Names that need CUDA to run the fake-quantized model were measured on CPU (nvidia-modelopt 0.47.0 with
torch 2.13.0 on a Debian 12 CI machine, 2026-11-24): NVFP4's dynamic-block quantizer asserts "amax must
be a CUDA tensor".
"""

from __future__ import annotations

from dataclasses import dataclass

from deployctl.recipe.model import KvCacheFormat, QuantFormat

_CONFIG_SRC = "nvidia-modelopt 0.47.0 modelopt/torch/quantization/config.py"


@dataclass(frozen=True)
class FormatPlan:
    """How one weight/activation format is produced and how its export identifies itself."""

    format: QuantFormat
    config_name: str  # attribute of modelopt.torch.quantization (mtq)
    quant_algo: str  # hf_quant_config.json quantization.quant_algo
    group_size: int | None  # hf_quant_config.json quantization.group_size (block formats only)
    needs_cuda_forward: bool  # the fake-quantized model only runs on CUDA
    source: str


@dataclass(frozen=True)
class KvPlan:
    kv_cache: KvCacheFormat
    config_name: str
    kv_cache_quant_algo: str
    needs_cuda_forward: bool
    source: str


FORMATS: dict[QuantFormat, FormatPlan] = {
    plan.format: plan
    for plan in (
        # config.py l.1688 (presets/model/fp8); quant_utils.py l.708
        FormatPlan(QuantFormat.FP8, "FP8_DEFAULT_CFG", "FP8", None, False, _CONFIG_SRC),
        # config.py l.1695 (presets/model/fp8_per_channel_per_token); quant_utils.py l.710
        FormatPlan(
            QuantFormat.FP8_PC_PT,
            "FP8_PER_CHANNEL_PER_TOKEN_CFG",
            "FP8_PER_CHANNEL_PER_TOKEN",
            None,
            False,
            _CONFIG_SRC,
        ),
        # config.py l.1722 (presets/model/nvfp4, E2M1 blocks of 16); quant_utils.py l.731
        FormatPlan(QuantFormat.NVFP4, "NVFP4_DEFAULT_CFG", "NVFP4", 16, True, _CONFIG_SRC),
        # config.py l.1704 (presets/model/int4_awq, INT4 blocks of 128, awq_lite); quant_utils.py l.713
        FormatPlan(QuantFormat.W4A16_AWQ, "INT4_AWQ_CFG", "W4A16_AWQ", 128, False, _CONFIG_SRC),
        # config.py l.1705 (presets/model/w4a8_awq_beta); quant_utils.py l.720
        FormatPlan(QuantFormat.W4A8_AWQ, "W4A8_AWQ_BETA_CFG", "W4A8_AWQ", 128, False, _CONFIG_SRC),
        # config.py l.1682 (presets/model/int8_smoothquant); quant_utils.py l.728
        FormatPlan(
            QuantFormat.INT8_SQ, "INT8_SMOOTHQUANT_CFG", "W8A8_SQ_PER_CHANNEL", None, False, _CONFIG_SRC
        ),
    )
}

KV_FORMATS: dict[KvCacheFormat, KvPlan] = {
    # config.py l.1719 (presets/kv/fp8): E4M3 → "FP8" (_compute_kv_cache_dtype)
    KvCacheFormat.FP8: KvPlan(KvCacheFormat.FP8, "FP8_KV_CFG", "FP8", False, _CONFIG_SRC),
    # config.py l.1750 (presets/kv/nvfp4): E2M1 → "NVFP4"
    KvCacheFormat.NVFP4: KvPlan(KvCacheFormat.NVFP4, "NVFP4_KV_CFG", "NVFP4", True, _CONFIG_SRC),
}


def format_plan(fmt: QuantFormat) -> FormatPlan | None:
    """The plan for a weight format; None for `none` (serve the base model)."""
    return FORMATS.get(fmt)


def kv_plan(kv: KvCacheFormat) -> KvPlan | None:
    """The plan for a KV-cache format; None for `none`."""
    return KV_FORMATS.get(kv)


def needs_cuda_forward(fmt: QuantFormat, kv: KvCacheFormat) -> bool:
    """True when the fake-quantized model cannot run a forward pass on CPU (so no quality report)."""
    plans = [p for p in (format_plan(fmt), kv_plan(kv)) if p is not None]
    return any(p.needs_cuda_forward for p in plans)


def is_quantized(fmt: QuantFormat, kv: KvCacheFormat) -> bool:
    return fmt is not QuantFormat.NONE or kv is not KvCacheFormat.NONE
