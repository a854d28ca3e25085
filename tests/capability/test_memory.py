"""Memory fit: weights + KV + overhead against each engine's share of the GPU, split over tensor parallel."""

from __future__ import annotations

import pytest

from deployctl.capability import estimate_memory, judge_recipe, lookup_gpu
from deployctl.capability.memory import weights_bytes
from deployctl.capability.shapes import known_shapes
from deployctl.capability.table import Level
from deployctl.recipe.load import parse_recipe_dict
from deployctl.recipe.model import EngineName, KvCacheFormat, QuantFormat


def recipe(model, gpu, engine="vllm", fmt="none", count=1, **engine_options):
    return parse_recipe_dict(
        {
            "name": "fit",
            "model": model,
            "gpu": {"type": gpu, "count": count},
            "engine": {"name": engine, **engine_options},
            "quantization": fmt,
        }
    )


def memory_finding(verdict):
    return next(f for f in verdict.findings if f.subject == "memory")


@pytest.mark.parametrize(
    ("model", "gpu", "engine", "fmt", "count", "expected"),
    [
        ("Qwen/Qwen3-32B", "RTX 4090", "vllm", "none", 1, Level.REJECTED),
        ("Qwen/Qwen3-8B", "RTX 4090", "vllm", "fp8", 1, Level.NATIVE),
        ("Qwen/Qwen3-8B", "RTX 4090", "vllm", "none", 1, Level.NATIVE),
        ("meta-llama/Llama-3.1-70B", "H200", "vllm", "none", 1, Level.REJECTED),
        ("meta-llama/Llama-3.1-70B", "H200", "vllm", "none", 2, Level.NATIVE),
        ("meta-llama/Llama-3.1-70B", "H200", "vllm", "fp8", 1, Level.NATIVE),
        ("Qwen/Qwen3-0.6B", "T4", "vllm", "none", 1, Level.NATIVE),
    ],
    ids=[
        "Qwen3-32B bf16 (65 GB) does not fit a 24 GB RTX 4090",
        "Qwen3-8B fp8 (9.4 GB) fits an RTX 4090 with its full 40k context",
        "Qwen3-8B bf16 (16.4 GB) without max_model_len fits an RTX 4090 at a shorter length, chosen",
        "Llama-3.1-70B bf16 (141 GB) does not fit one H200",
        "Llama-3.1-70B bf16 fits two H200 with tensor parallel 2",
        "Llama-3.1-70B fp8 (73 GB) fits one H200",
        "Qwen3-0.6B fits a T4",
    ],
)
def test_memory_fit(model, gpu, engine, fmt, count, expected):
    verdict = judge_recipe(recipe(model, gpu, engine, fmt, count))
    assert memory_finding(verdict).level is expected, memory_finding(verdict).reason


def test_weights_match_the_measured_qwen3_06b_exports():
    """Model Optimizer 0.47.0 exports, measured on the CPU machine 2026-11-24/25: bf16 ~1.2 GB,
    fp8 717 MiB, nvfp4 533 MiB, int4 AWQ 520 MiB (within 2 %)."""
    shape = known_shapes()["qwen/qwen3-0.6b"]
    measured = {
        QuantFormat.NONE: 1.19e9,
        QuantFormat.FP8: 717 * 2**20,
        QuantFormat.NVFP4: 533 * 2**20,
        QuantFormat.W4A16_AWQ: 520 * 2**20,
    }
    for fmt, expected in measured.items():
        assert weights_bytes(shape, fmt) == pytest.approx(expected, rel=0.02), fmt


def test_kv_cache_grows_with_max_model_len():
    shape = known_shapes()["qwen/qwen3-8b"]
    gpu = lookup_gpu("H100")
    sizes = [
        estimate_memory(
            shape,
            weights=QuantFormat.FP8,
            kv=KvCacheFormat.NONE,
            engine=EngineName.VLLM,
            gpu=gpu,
            max_model_len=n,
        ).kv_bytes_needed
        for n in (4096, 8192, 32768)
    ]
    assert sizes[0] < sizes[1] < sizes[2]
    assert sizes[1] == 2 * sizes[0]
    assert sizes[0] == 4096 * 144 * 1024  # 2 × 36 layers × 8 KV heads × 128 × 2 bytes = 144 KiB/token


def test_fp8_kv_halves_the_kv_cache_and_tensor_parallel_splits_it():
    shape = known_shapes()["meta-llama/llama-3.1-70b"]
    gpu = lookup_gpu("H200")

    def kv(fmt, count):
        return estimate_memory(
            shape, weights=QuantFormat.FP8, kv=fmt, engine=EngineName.VLLM, gpu=gpu, gpu_count=count
        ).kv_bytes_per_token

    assert kv(KvCacheFormat.FP8, 1) * 2 == kv(KvCacheFormat.NONE, 1)
    assert kv(KvCacheFormat.NONE, 2) * 2 == kv(KvCacheFormat.NONE, 1)


def test_a_long_context_that_does_not_fit_names_the_length_that_does():
    verdict = judge_recipe(recipe("Qwen/Qwen3-8B", "RTX 4090", "vllm", "none", max_model_len=40960))
    finding = memory_finding(verdict)
    assert finding.level is Level.REJECTED
    assert finding.field == "engine.max_model_len"
    assert finding.fitting_max_model_len is not None
    shorter = judge_recipe(
        recipe("Qwen/Qwen3-8B", "RTX 4090", "vllm", "none", max_model_len=finding.fitting_max_model_len)
    )
    assert memory_finding(shorter).level is Level.NATIVE


def test_an_unset_max_model_len_gets_the_longest_length_that_fits():
    """The default (the model's full context) never causes a rejection when a shorter one fits: like
    vLLM 0.33's `--max-model-len auto`, the longest that fits is chosen and said."""
    verdict = judge_recipe(recipe("meta-llama/Llama-3.1-8B", "RTX 3090", "trtllm", "w4a16_awq"))
    assert verdict.ok
    chosen = verdict.memory.chosen_max_model_len
    assert chosen is not None and 2048 <= chosen < 131072
    assert f"max_model_len {chosen:,}" in memory_finding(verdict).reason
    explicit = recipe("meta-llama/Llama-3.1-8B", "RTX 3090", "trtllm", "w4a16_awq", max_model_len=131072)
    assert not judge_recipe(explicit).ok, "a length the user set is judged as set"


def test_vllm_memory_utilization_from_the_recipe_is_used():
    tight = judge_recipe(
        recipe("Qwen/Qwen3-8B", "RTX 4090", "vllm", "fp8", gpu_memory_utilization=0.5, max_model_len=40960)
    )
    assert memory_finding(tight).level is Level.REJECTED


def test_32b_bf16_on_4090_names_what_would_fit():
    verdict = judge_recipe(recipe("Qwen/Qwen3-32B", "RTX 4090"))
    assert not verdict.ok
    described = [(a.weights.value, a.engine.value, a.gpu) for a in verdict.alternatives]
    assert ("w4a16_awq", "trtllm", "RTX 4090") in described
    assert any(gpu != "RTX 4090" for _, _, gpu in described), "a bigger GPU is offered too"
    bigger = next(a for a in verdict.alternatives if a.gpu != "RTX 4090")
    assert lookup_gpu(bigger.gpu).memory_gb > 24


def test_unknown_model_skips_the_memory_check_with_a_note():
    verdict = judge_recipe(recipe("someorg/never-heard-of", "H100"))
    finding = memory_finding(verdict)
    assert verdict.memory is None and verdict.ok
    assert "skipped" in finding.reason
