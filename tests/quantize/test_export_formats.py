"""Real Model Optimizer on CPU: every format that calibrates on CPU exports a checkpoint engines can load.

Asserts what makes an export usable: the quant_algo engines dispatch on, the tensor dtypes and
scales, lm_head left unquantized, weights that dequantize close to the originals, the tokenizer
copied, and a manifest with a quality report.
"""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from tests.quantize.dequant_helpers import dequantize, folded_norm_scale

pytestmark = [pytest.mark.integration, pytest.mark.quantize]

# (arch, format, kv, quant_algo, group_size, weight dtype, relative weight error bound)
# Bounds: E4M3 has 3 mantissa bits (~2.6 % rms measured), INT8 per-channel ~1 %, INT4 groups of 128
# ~12 %, NVFP4 blocks of 16 ~10 %; each bound is ~2x the measured error.
CASES = [
    ("qwen3", "fp8", "fp8", "FP8", None, torch.float8_e4m3fn, 0.06),
    ("llama", "fp8_pc_pt", "none", "FP8_PER_CHANNEL_PER_TOKEN", None, torch.float8_e4m3fn, 0.06),
    ("qwen3", "int8_sq", "none", "W8A8_SQ_PER_CHANNEL", None, torch.int8, 0.03),
    ("qwen3", "w4a16_awq", "none", "W4A16_AWQ", 128, torch.uint8, 0.25),
    ("llama", "w4a8_awq", "none", "W4A8_AWQ", 128, torch.uint8, 0.25),
    ("llama", "nvfp4", "none", "NVFP4", 16, torch.uint8, 0.25),
]
IDS = [f"{arch} {fmt}" + (f" with {kv} kv" if kv != "none" else "") for arch, fmt, kv, *_ in CASES]
LINEARS = ("self_attn.q_proj", "self_attn.o_proj", "mlp.up_proj", "mlp.down_proj")


@pytest.mark.parametrize(("arch", "fmt", "kv", "algo", "group", "dtype", "bound"), CASES, ids=IDS)
def test_the_export_declares_the_format_engines_dispatch_on(
    quantized, arch, fmt, kv, algo, group, dtype, bound
):
    folder = quantized(arch, fmt, kv).checkpoint.path
    section = json.loads((folder / "hf_quant_config.json").read_text())["quantization"]
    assert section["quant_algo"] == algo
    assert section.get("group_size") == group
    assert section["kv_cache_quant_algo"] == ("FP8" if kv == "fp8" else None)
    assert "lm_head" in section["exclude_modules"]
    inline = json.loads((folder / "config.json").read_text())["quantization_config"]
    assert inline["quant_method"] == "modelopt" and inline["quant_algo"] == algo


@pytest.mark.parametrize(("arch", "fmt", "kv", "algo", "group", "dtype", "bound"), CASES, ids=IDS)
def test_weights_are_stored_packed_with_scales_and_lm_head_is_not(
    quantized, tiny_models, arch, fmt, kv, algo, group, dtype, bound
):
    tensors = load_file(quantized(arch, fmt, kv).checkpoint.path / "model.safetensors")
    base = load_file(tiny_models[arch] / "model.safetensors")
    for layer in range(2):
        for linear in LINEARS:
            prefix = f"model.layers.{layer}.{linear}"
            weight, out_dim, in_dim = tensors[f"{prefix}.weight"], *base[f"{prefix}.weight"].shape
            assert weight.dtype == dtype
            assert f"{prefix}.weight_scale" in tensors
            if dtype == torch.uint8 and group == 128:  # INT4: two output rows per byte, a scale per group
                assert weight.shape == (out_dim // 2, in_dim)
                assert tensors[f"{prefix}.weight_scale"].shape == (out_dim, in_dim // 128)
            elif dtype == torch.uint8:  # NVFP4: two inputs per byte, an E4M3 scale per 16 inputs
                assert weight.shape == (out_dim, in_dim // 2)
                assert tensors[f"{prefix}.weight_scale"].dtype == torch.float8_e4m3fn
    for name, tensor in tensors.items():
        if name.startswith(("lm_head", "model.embed_tokens")):
            assert tensor.dtype == torch.bfloat16, name


@pytest.mark.parametrize(("arch", "fmt", "kv", "algo", "group", "dtype", "bound"), CASES, ids=IDS)
def test_weights_dequantize_close_to_the_originals(
    quantized, tiny_models, arch, fmt, kv, algo, group, dtype, bound
):
    tensors = load_file(quantized(arch, fmt, kv).checkpoint.path / "model.safetensors")
    base = load_file(tiny_models[arch] / "model.safetensors")
    for layer in range(2):
        for linear in LINEARS:
            prefix = f"model.layers.{layer}.{linear}"
            restored = dequantize(tensors, prefix, algo)
            if f"{prefix}.pre_quant_scale" not in tensors and linear in ("self_attn.q_proj", "mlp.up_proj"):
                norm = "input_layernorm" if linear.startswith("self_attn") else "post_attention_layernorm"
                restored = restored * folded_norm_scale(tensors, base, f"model.layers.{layer}.{norm}.weight")
            original = base[f"{prefix}.weight"].float()
            error = ((restored - original).norm() / original.norm()).item()
            assert error < bound, f"{prefix}: relative error {error:.3f}"


@pytest.mark.parametrize(("arch", "fmt", "kv", "algo", "group", "dtype", "bound"), CASES, ids=IDS)
def test_the_checkpoint_is_complete_and_reports_its_quality(
    quantized, arch, fmt, kv, algo, group, dtype, bound
):
    prepared = quantized(arch, fmt, kv)
    folder = prepared.checkpoint.path
    for name in ("tokenizer.json", "tokenizer_config.json", "generation_config.json", "manifest.json"):
        assert (folder / name).is_file(), name
    assert json.loads((folder / "tokenizer_config.json").read_text())["chat_template"]
    manifest = prepared.manifest
    assert (manifest.quant_algo, manifest.format, manifest.key) == (algo, fmt, prepared.checkpoint.key)
    assert manifest.size_bytes < manifest.base_size_bytes
    assert set(manifest.timings_s) >= {"load", "calibrate", "quality", "export"}
    quality = manifest.quality
    if fmt == "nvfp4":
        assert quality.status == "unavailable: needs CUDA (NVFP4 fake-quant runs on GPUs only)"
    else:
        assert quality.status == "ok" and quality.eval_tokens > 100
        assert quality.perplexity_base > 1 and abs(quality.perplexity_increase) < 0.2
        assert 0.5 < quality.top1_agreement <= 1 and 0 <= quality.mean_kl < 0.1
