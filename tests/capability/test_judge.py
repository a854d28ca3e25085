"""judge_recipe: findings from features and shapes, alternatives, the rejection error, and resolve_gpu."""

from __future__ import annotations

import json

import pytest

from deployctl.capability import judge_recipe, lookup_gpu, raise_if_rejected, resolve_gpu, resolve_shape
from deployctl.capability.table import Level
from deployctl.errors import CapabilityRejected, RecipeError
from deployctl.gpu_detect import DetectedGpu
from deployctl.recipe.load import parse_recipe_dict


def make(**parts):
    data = {"name": "judge", "model": "Qwen/Qwen3-0.6B", "gpu": "H100", "engine": "vllm"}
    data.update(parts)
    return parse_recipe_dict(data)


def test_nvfp4_with_trtllm_on_4090_is_rejected_and_offers_fp8():
    verdict = judge_recipe(make(gpu="RTX 4090", engine="trtllm", quantization="nvfp4"))
    assert verdict.level is Level.REJECTED
    offered = {(a.weights.value, a.engine.value) for a in verdict.alternatives}
    assert ("fp8", "trtllm") in offered
    assert all(a.level is not Level.REJECTED for a in verdict.alternatives)
    assert 1 <= len(verdict.alternatives) <= 4


def test_rejection_message_names_reason_gpu_and_what_to_try():
    verdict = judge_recipe(make(gpu="RTX 4090", engine="trtllm", quantization="nvfp4"))
    with pytest.raises(CapabilityRejected) as caught:
        raise_if_rejected(verdict, file="recipe.yaml")
    error = caught.value
    assert error.message.startswith("nvfp4 needs Blackwell (sm100+) in trtllm; on RTX 4090 (sm89) try")
    assert "fp8" in error.message
    assert error.field == "quantization.format" and error.file == "recipe.yaml"
    assert "would work" in error.hint


@pytest.mark.parametrize(
    ("engine", "expected"),
    [("trtllm", Level.REJECTED), ("transformers", Level.REJECTED), ("vllm", Level.NATIVE)],
    ids=[
        "an API key with trtllm is rejected (TensorRT-LLM issue 9950)",
        "an API key with transformers serve is rejected (no option in cli/serve.py)",
        "an API key with vllm is fine (VLLM_API_KEY)",
    ],
)
def test_api_key_support_per_engine(engine, expected):
    verdict = judge_recipe(make(engine=engine, serve={"api_key_env": "MY_KEY"}))
    api = [f for f in verdict.findings if f.subject == "api-key"]
    assert Level.worst([f.level for f in api]) is expected


def test_api_key_with_trtllm_says_how_to_fix_it():
    verdict = judge_recipe(make(engine="trtllm", serve={"api_key_env": "MY_KEY"}))
    finding = next(f for f in verdict.findings if f.subject == "api-key")
    assert finding.field == "serve.api_key_env"
    assert "vllm" in finding.fix and "127.0.0.1" in finding.fix
    assert any(a.engine.value == "vllm" for a in verdict.alternatives)


def test_fallback_verdict_is_ok_and_carries_the_warning():
    verdict = judge_recipe(make(quantization="nvfp4"))
    assert verdict.level is Level.FALLBACK and verdict.ok
    assert any("Marlin" in warning for warning in verdict.warnings)
    raise_if_rejected(verdict)  # a fallback never raises


def test_bfloat16_on_t4_is_rejected():
    verdict = judge_recipe(make(gpu="T4", engine={"name": "vllm", "dtype": "bfloat16"}))
    assert any(f.subject == "dtype" and f.level is Level.REJECTED for f in verdict.findings)


def test_heads_not_divisible_by_tensor_parallel_is_rejected():
    verdict = judge_recipe(make(gpu={"type": "H100", "count": 3}))
    assert any(f.subject == "parallelism" and f.level is Level.REJECTED for f in verdict.findings)


def test_awq_on_a_model_with_unaligned_dimensions_is_rejected(tmp_path):
    config = {
        "num_hidden_layers": 2,
        "hidden_size": 96,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "head_dim": 24,
        "intermediate_size": 200,
        "vocab_size": 1000,
        "max_position_embeddings": 2048,
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    verdict = judge_recipe(make(model=str(tmp_path), engine="trtllm", quantization="w4a16_awq"))
    awq = [f for f in verdict.findings if f.subject == "calibration" and f.level is Level.REJECTED]
    assert awq and "multiple of 128" in awq[0].reason


def test_gpu_cpu_serves_only_base_models():
    assert judge_recipe(make(gpu="cpu", engine="vllm")).ok
    assert not judge_recipe(make(gpu="cpu", engine="vllm", quantization="fp8")).ok
    assert not judge_recipe(make(gpu="cpu", engine="trtllm")).ok


def test_shape_comes_from_a_local_folder_then_the_offline_hf_cache(tmp_path, monkeypatch):
    config = {
        "num_hidden_layers": 3,
        "hidden_size": 256,
        "num_attention_heads": 4,
        "intermediate_size": 512,
        "vocab_size": 1000,
        "tie_word_embeddings": True,
    }
    snapshot = tmp_path / "hub" / "models--acme--tiny" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text(json.dumps(config))
    (tmp_path / "hub" / "models--acme--tiny" / "refs").mkdir()
    (tmp_path / "hub" / "models--acme--tiny" / "refs" / "main").write_text("abc123")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    shape = resolve_shape(make(model="acme/tiny").model)
    assert shape is not None and shape.layers == 3 and shape.kv_heads == 4 and shape.head_dim == 64
    assert resolve_shape(make(model="acme/absent").model) is None


def test_resolve_gpu_auto_uses_what_nvml_reports():
    detected = [DetectedGpu(0, "NVIDIA H100 80GB HBM3", 90, 81559 * 2**20, "580.159.04")]
    gpu = resolve_gpu(make(gpu="auto"), detect=lambda: detected)
    assert gpu.name == "H100 SXM" and gpu.memory_bytes == 81559 * 2**20


def test_resolve_gpu_auto_with_too_few_gpus_is_rejected():
    detected = [DetectedGpu(0, "NVIDIA L4", 89, 23034 * 2**20, "580")]
    with pytest.raises(CapabilityRejected) as caught:
        resolve_gpu(make(gpu={"type": "auto", "count": 2}), detect=lambda: detected)
    assert caught.value.field == "gpu.count"


def test_resolve_gpu_by_name_never_asks_nvml():
    def fail():
        raise AssertionError("NVML must not be asked for a named GPU")

    assert resolve_gpu(make(gpu="L40S"), detect=fail).name == "L40S"
    assert resolve_gpu(make(gpu="cpu"), detect=fail).is_cpu
    with pytest.raises(RecipeError):
        resolve_gpu(make(gpu="H1OO"), detect=fail)


def test_judge_accepts_an_explicit_gpu_for_auto_recipes():
    verdict = judge_recipe(make(gpu="auto"), gpu=lookup_gpu("B200"))
    assert verdict.gpu.name == "B200" and verdict.ok


def test_unknown_gpu_error_names_the_recipe_file():
    with pytest.raises(RecipeError) as caught:
        resolve_gpu(make(gpu="H1000 SXM"), file="recipe.yaml")
    assert caught.value.file == "recipe.yaml" and "H100 SXM" in caught.value.hint


LLAMA_70B_DUMMY = {"id": "meta-llama/Llama-3.1-70B", "weights": "dummy"}


def test_a_70b_bf16_model_on_one_h200_offers_serving_engines_not_the_cpu_development_engine():
    """Measured 2026-11-30: this rejection offered "trtllm; transformers"; transformers serve is the CPU
    development engine (no batching scheduler, no paged KV) and is no answer for a 70B model on a GPU."""
    engine = {"name": "vllm", "max_model_len": 4096, "gpu_memory_utilization": 0.9}
    verdict = judge_recipe(
        make(model="meta-llama/Llama-3.1-70B", gpu={"type": "H200", "count": 1}, engine=engine)
    )
    assert verdict.level is Level.REJECTED
    offered = [(a.weights.value, a.engine.value, a.gpu_count) for a in verdict.alternatives]
    assert ("none", "trtllm", 1) in offered and ("none", "vllm", 2) in offered
    assert all(engine != "transformers" for _, engine, _ in offered), offered


def test_transformers_is_still_offered_on_cpu():
    verdict = judge_recipe(make(model="tiny-qwen3", gpu="cpu", engine="vllm", quantization="fp8"))
    assert verdict.level is Level.REJECTED
    assert any(a.engine.value == "transformers" for a in verdict.alternatives)


def test_dummy_weights_judge_the_memory_from_the_shape_and_fit_two_h200s():
    verdict = judge_recipe(make(model=LLAMA_70B_DUMMY, gpu={"type": "H200", "count": 2}))
    assert verdict.ok
    assert verdict.memory is not None and verdict.memory.weights_per_gpu > 60 * 2**30


@pytest.mark.parametrize(
    ("quantization", "field"),
    [("fp8", "quantization.format"), ({"format": "none", "kv_cache": "fp8"}, "quantization.kv_cache")],
    ids=["fp8 weights", "an fp8 KV cache"],
)
def test_dummy_weights_cannot_be_quantized(quantization, field):
    verdict = judge_recipe(
        make(model=LLAMA_70B_DUMMY, gpu={"type": "H200", "count": 2}, quantization=quantization)
    )
    with pytest.raises(CapabilityRejected) as caught:
        raise_if_rejected(verdict, file="recipe.yaml")
    assert "no weights to quantize" in caught.value.message
    assert caught.value.field == field
    assert "quantization: none" in caught.value.hint
    offered = {(a.weights.value, a.kv_cache.value) for a in verdict.alternatives}
    assert offered and offered <= {("none", "none")}


def test_dummy_weights_with_transformers_serve_are_refused_and_vllm_offered():
    verdict = judge_recipe(
        make(model={"id": "Qwen/Qwen3-0.6B", "weights": "dummy"}, gpu="cpu", engine="transformers")
    )
    finding = next(f for f in verdict.findings if f.subject == "weights")
    assert finding.level is Level.REJECTED and finding.field == "model.weights"
    assert "vllm" in finding.fix
    assert any(a.engine.value == "vllm" for a in verdict.alternatives)
