"""Findings for one (weights, KV, engine) combination on one GPU: table rows, recipe features, shape, memory.

`assess` is the judge's core and is also what the alternatives search calls for every candidate, so it
must stay cheap and pure (the model shape is passed in, never looked up here).
"""

from __future__ import annotations

from dataclasses import dataclass

from deployctl.capability.catalogue import GIB, GpuInfo
from deployctl.capability.memory import MemoryEstimate, estimate_memory
from deployctl.capability.shapes import ModelShape
from deployctl.capability.table import (
    CalibrationRow,
    FeatureRow,
    Level,
    RowContext,
    ServingRow,
    calibration_rows,
    feature_rows,
    serving_rows,
)
from deployctl.capability.verdict import Finding
from deployctl.recipe.model import EngineName, KvCacheFormat, QuantFormat, Recipe

AWQ_BLOCK = 128  # modelopt_recipes/configs/numerics/int4_per_block.yaml (block_sizes -1: 128)
AWQ_FORMATS = (QuantFormat.W4A16_AWQ, QuantFormat.W4A8_AWQ)


@dataclass(frozen=True)
class Combination:
    weights: QuantFormat
    kv: KvCacheFormat
    engine: EngineName

    @classmethod
    def of(cls, recipe: Recipe) -> Combination:
        return cls(recipe.quantization.format, recipe.quantization.kv_cache, recipe.engine.name)


def table_findings(combo: Combination, gpu: GpuInfo, context: RowContext | None = None) -> list[Finding]:
    """Serving and calibration rows of the capability table (no recipe, no model needed)."""
    rows = serving_rows(combo.weights, combo.kv, combo.engine, gpu.arch, context)
    findings = [_finding("serving", row, _row_field(row)) for row in rows]
    if not rows:
        findings.append(
            Finding(
                subject="serving",
                level=Level.REJECTED,
                reason=f"deployctl has no capability data for {gpu.label} (known: Turing sm75 and newer)",
                source="deployctl/data/capabilities.yaml",
                field="gpu.type",
                fix="use a GPU from `deployctl capabilities`",
            )
        )
    if combo.engine == EngineName.TRTLLM and not gpu.is_cpu and not gpu.trtllm_listed and rows:
        findings.append(
            Finding(
                subject="serving",
                level=Level.NATIVE,
                reason=f"{gpu.name} is not on TensorRT-LLM's supported-hardware list (community support only)",
                source="https://nvidia.github.io/TensorRT-LLM/supported-hardware.html",
            )
        )
    if combo.weights is not QuantFormat.NONE or combo.kv is not KvCacheFormat.NONE:
        host = "cpu" if gpu.is_cpu else "cuda"
        for row in calibration_rows(combo.weights, combo.kv, host):
            findings.append(_finding("calibration", row, _row_field(row)))
    return findings


def assess(
    recipe: Recipe,
    combo: Combination,
    gpu: GpuInfo,
    gpu_count: int,
    shape: ModelShape | None,
    context: RowContext | None = None,
) -> tuple[list[Finding], MemoryEstimate | None]:
    """Every finding for the recipe run as `combo` on `gpu_count` × `gpu`, and the memory estimate."""
    findings = table_findings(combo, gpu, context)
    findings += feature_findings(recipe, combo.engine, gpu, gpu_count)
    findings += dummy_weights_findings(recipe, combo)
    if shape is None:
        findings.append(_skipped_memory(recipe, gpu))
        return findings, None
    findings += shape_findings(combo, shape, gpu_count)
    findings += context_findings(recipe, shape)
    if gpu.is_cpu:
        findings.append(_skipped_memory(recipe, gpu))
        return findings, None
    memory = estimate_memory(
        shape,
        weights=combo.weights,
        kv=combo.kv,
        engine=combo.engine,
        gpu=gpu,
        gpu_count=gpu_count,
        max_model_len=recipe.engine.max_model_len,
        memory_share=recipe.engine.gpu_memory_utilization,
        kv_cache_memory_bytes=recipe.engine.kv_cache_memory_bytes,
    )
    findings.append(memory_finding(memory, combo, gpu))
    return findings, memory


def feature_findings(recipe: Recipe, engine: EngineName, gpu: GpuInfo, gpu_count: int) -> list[Finding]:
    present = {
        "api_key": recipe.serve.api_key_env is not None and not recipe.has_front,  # the front checks it
        "bfloat16": recipe.engine.dtype == "bfloat16",
        "tensor_parallel": gpu_count > 1,
        "dummy_weights": recipe.model.dummy,
    }
    subjects = {
        "api_key": "api-key",
        "bfloat16": "dtype",
        "tensor_parallel": "parallelism",
        "dummy_weights": "weights",
    }
    return [
        _finding(subjects[feature], row, row.field)
        for feature, on in present.items()
        if on
        for row in feature_rows(feature, engine, gpu.arch)
    ]


def dummy_weights_findings(recipe: Recipe, combo: Combination) -> list[Finding]:
    """Engine-initialised weights cannot be quantized: Model Optimizer calibrates real weights."""
    if not recipe.model.dummy or (combo.weights is QuantFormat.NONE and combo.kv is KvCacheFormat.NONE):
        return []
    field = "quantization.format" if combo.weights is not QuantFormat.NONE else "quantization.kv_cache"
    return [
        Finding(
            subject="weights",
            level=Level.REJECTED,
            reason="model.weights: dummy has no weights to quantize: Model Optimizer calibrates the real "
            "weights, and the engine would make new random ones anyway",
            source="deployctl (model.weights: dummy; the quantize step loads the checkpoint's weights)",
            field=field,
            fix="set quantization: none (the engine initialises weights in the model's own dtype), or drop "
            "model.weights: dummy and give the real weights to quantize",
        )
    ]


def shape_findings(combo: Combination, shape: ModelShape, gpu_count: int) -> list[Finding]:
    """Checks that need the model's dimensions: AWQ block alignment, heads divisible by TP."""
    findings = []
    if shape.heads % gpu_count:
        findings.append(
            Finding(
                subject="parallelism",
                level=Level.REJECTED,
                reason=f"{shape.heads} attention heads cannot be split over gpu.count {gpu_count} "
                "(engines need the heads divisible by the tensor-parallel size)",
                source="vLLM 0.33.0 vllm/config/model.py (verify_with_parallel_config)",
                field="gpu.count",
                fix=f"use a gpu.count that divides {shape.heads}",
            )
        )
    if combo.weights in AWQ_FORMATS:
        dims = {
            "hidden_size": shape.hidden,
            "heads × head_dim / gpu.count": shape.heads * shape.head_dim // gpu_count,
            "intermediate_size / gpu.count": shape.intermediate // gpu_count,
        }
        bad = [f"{name} {value}" for name, value in dims.items() if value % AWQ_BLOCK]
        if bad:
            findings.append(
                Finding(
                    subject="calibration",
                    level=Level.REJECTED,
                    reason=f"{combo.weights.value} needs every linear input dimension to be a multiple of "
                    f"{AWQ_BLOCK} (the AWQ block); this model has {', '.join(bad)}",
                    source="nvidia-modelopt 0.47.0 modelopt_recipes/configs/numerics/int4_per_block.yaml",
                    field="quantization.format",
                    fix="use fp8 or nvfp4 for this model",
                )
            )
    return findings


def context_findings(recipe: Recipe, shape: ModelShape) -> list[Finding]:
    """engine.max_model_len beyond the model's context: engines refuse it at start-up (vLLM
    config/model.py `get_and_verify_max_len`), after the download; refuse it here instead."""
    wanted = recipe.engine.max_model_len
    if wanted is None or wanted <= shape.max_position:
        return []
    return [
        Finding(
            subject="shape",
            level=Level.REJECTED,
            reason=f"engine.max_model_len {wanted:,} is longer than the model's context of "
            f"{shape.max_position:,} tokens (max_position_embeddings)",
            source=f"model shape: {shape.source}",
            field="engine.max_model_len",
            fix=f"set engine.max_model_len: {shape.max_position} or less, or leave it out",
        )
    ]


def memory_finding(memory: MemoryEstimate, combo: Combination, gpu: GpuInfo) -> Finding:
    per_gpu = f" per GPU (×{memory.gpu_count})" if memory.gpu_count > 1 else ""
    source = f"deployctl memory estimate ({memory.share}); shape: {memory.model_source}"
    need = memory.weights_per_gpu + memory.overhead_per_gpu + memory.kv_bytes_needed
    if memory.fits:
        return Finding(
            subject="memory",
            level=Level.NATIVE,
            reason=f"fits: ~{_gib(need)} needed{per_gpu} of {_gib(gpu.memory_bytes)} on {gpu.name}; "
            f"KV room for {memory.kv_capacity_tokens:,} tokens (max_model_len {memory.max_model_len:,})"
            + (_chosen_note(memory) if memory.chosen_max_model_len else ""),
            source=source,
        )
    if not memory.weights_fit:
        return Finding(
            subject="memory",
            level=Level.REJECTED,
            reason=f"{_weights_label(combo.weights)} weights need {_gib(memory.weights_per_gpu)}{per_gpu} "
            f"(+{_gib(memory.overhead_per_gpu)} engine overhead); {gpu.name} has {_gib(gpu.memory_bytes)}, "
            f"{_gib(memory.usable_per_gpu)} usable by {combo.engine.value}",
            source=source,
            field="gpu.type",
            fix="use a smaller format, a bigger GPU, or more GPUs (gpu.count)",
        )
    shorter = memory.fitting_max_model_len
    return Finding(
        subject="memory",
        level=Level.REJECTED,
        reason=f"the KV cache for max_model_len {memory.max_model_len:,} needs {_gib(memory.kv_bytes_needed)}"
        f"{per_gpu}; after the weights only {_gib(memory.kv_budget_per_gpu)} is left on {gpu.name} "
        f"({memory.kv_capacity_tokens:,} tokens)",
        source=source,
        field="engine.max_model_len",
        fix=(f"set engine.max_model_len: {shorter} or lower, " if shorter else "")
        + "use an fp8 KV cache, or more GPUs",
        fitting_max_model_len=shorter,
    )


def _chosen_note(memory: MemoryEstimate) -> str:
    return (
        f"; engine.max_model_len is not set and the model's full context does not fit, so deployctl uses "
        f"the longest that does: max_model_len {memory.chosen_max_model_len:,} (like vLLM's --max-model-len auto)"
    )


def _skipped_memory(recipe: Recipe, gpu: GpuInfo) -> Finding:
    why = "CPU engines use host RAM" if gpu.is_cpu else f"no shape known for {recipe.model.display}"
    return Finding(
        subject="memory",
        level=Level.NATIVE,
        reason=f"memory check skipped: {why} (add a local config.json or a cached snapshot to enable it)",
        source="deployctl",
    )


def _row_field(row: ServingRow | CalibrationRow) -> str:
    """The recipe field a table row is about: a KV row → kv_cache, a row about everything → engine."""
    if row.weights == "any":
        return "engine.name" if row.kv == "any" else "quantization.kv_cache"
    return "quantization.format"


def _finding(subject: str, row: ServingRow | CalibrationRow | FeatureRow, field: str | None) -> Finding:
    return Finding(
        subject=subject,
        level=row.level,
        reason=row.reason,
        source=row.source,
        field=field if row.level is not Level.NATIVE else None,
        fix=row.fix,
        warning=row.warning,
    )


def _weights_label(weights: QuantFormat) -> str:
    return "unquantized (bf16)" if weights is QuantFormat.NONE else weights.value


def _gib(value: int) -> str:
    return f"{value / GIB:.1f} GiB"
