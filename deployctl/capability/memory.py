"""Will the model fit? Weights + KV cache + engine overhead against each GPU's usable share.

Arithmetic (checked against Qwen3-0.6B exports made with nvidia-modelopt 0.47.0 on a CPU machine,
2026-11-24: bf16 1.19 GB, fp8 717 MiB, nvfp4 533 MiB, int4 AWQ 520 MiB):
- weights = linear params × bytes/param of the format + embeddings/lm_head at 2 bytes (tied counted once);
- KV = 2 (K and V) × layers × KV heads on this GPU × head_dim × bytes/element × max_model_len, for the
  one full-length sequence both engines insist on being able to hold;
- tensor parallel (`gpu.count`) splits the weights; KV heads split too, replicated once TP > KV heads;
- usable memory follows the engine row's `memory.share` rule (data/engines.yaml): `gpu-share` (vLLM
  takes `gpu_memory_utilization`, default 0.92 in 0.33.0 config/cache.py, of the whole GPU for
  everything), `free-after-weights` (TensorRT-LLM needs the weights to fit, then gives
  `free_gpu_memory_fraction`, 0.9 in KvCacheConfig, of what is left to the KV cache), `whole-gpu`;
  the overhead allowance per GPU is the row's `memory.overhead_gib`.
An estimate: it is right to a few percent on weights; the overhead is a round, stated allowance.
"""

from __future__ import annotations

from pydantic import Field

from deployctl.capability.catalogue import GpuInfo
from deployctl.capability.shapes import ModelShape
from deployctl.engine_facts import engine_facts
from deployctl.recipe.model import EngineName, KvCacheFormat, QuantFormat
from deployctl.strict import StrictModel

# Bytes per parameter of the quantized linears, scales included (the layout is noted per format).
WEIGHT_BYTES = {
    QuantFormat.NONE: 2.0,
    QuantFormat.FP8: 1.0,
    QuantFormat.FP8_PC_PT: 1.0,
    QuantFormat.INT8_SQ: 1.0,
    QuantFormat.NVFP4: 0.5625,  # E2M1 + one E4M3 scale per 16 values (effective_bits 4.5)
    QuantFormat.W4A16_AWQ: 0.53125,  # INT4 + a 32-bit scale per 128 values (fits the 520 MiB measured)
    QuantFormat.W4A8_AWQ: 0.53125,
}
# Bytes per KV-cache element; nvfp4 assumes 16-element blocks with E4M3 scales (layout not confirmed).
KV_BYTES = {KvCacheFormat.NONE: 2.0, KvCacheFormat.FP8: 1.0, KvCacheFormat.NVFP4: 0.5625}

SHORTEST_USEFUL_LEN = 2048  # below this, "shorten max_model_len" is not advice worth giving


class MemoryEstimate(StrictModel):
    """Per-GPU bytes, and what the KV cache can hold. `fits` is the verdict; the rest explains it."""

    model_source: str
    engine: EngineName
    gpu_count: int
    max_model_len: int
    weights_bytes: int = Field(..., description="whole model, all GPUs together")
    weights_per_gpu: int
    overhead_per_gpu: int
    kv_bytes_per_token: int = Field(..., description="per GPU")
    kv_bytes_needed: int = Field(..., description="per GPU, one max_model_len sequence")
    usable_per_gpu: int = Field(..., description="what the engine may use for weights+overhead+KV")
    kv_budget_per_gpu: int
    kv_capacity_tokens: int
    weights_fit: bool
    fits: bool
    fitting_max_model_len: int | None = Field(None, description="the longest max_model_len that fits, if any")
    chosen_max_model_len: int | None = Field(
        None, description="max_model_len unset and the full context does not fit: the longest that does, used "
        "instead (what vLLM 0.33's `--max-model-len auto` does)",
    )  # fmt: skip
    share: str = Field(..., description="how the usable memory was derived, in words")


def weights_bytes(shape: ModelShape, weights: QuantFormat) -> int:
    return int(shape.linear_params * WEIGHT_BYTES[weights] + shape.embedding_params * 2)


def kv_bytes_per_token(shape: ModelShape, kv: KvCacheFormat, gpu_count: int = 1) -> int:
    """Per GPU: KV heads split over tensor-parallel ranks (at least one head each)."""
    heads_here = max(1, -(-shape.kv_heads // gpu_count))
    return int(2 * shape.layers * heads_here * shape.head_dim * KV_BYTES[kv])


def estimate_memory(
    shape: ModelShape,
    *,
    weights: QuantFormat,
    kv: KvCacheFormat,
    engine: EngineName,
    gpu: GpuInfo,
    gpu_count: int = 1,
    max_model_len: int | None = None,
    memory_share: float | None = None,
    kv_cache_memory_bytes: int | None = None,
) -> MemoryEstimate:
    """Weights + overhead + one full-length sequence of KV, per GPU, against the engine's share."""
    length = max_model_len or shape.max_position
    total_weights = weights_bytes(shape, weights)
    per_gpu_weights = -(-total_weights // gpu_count)
    overhead = engine_facts(engine).memory.overhead_bytes
    per_token = kv_bytes_per_token(shape, kv, gpu_count)
    usable, kv_budget, share = _budget(
        engine, gpu.memory_bytes, per_gpu_weights + overhead, memory_share, kv_cache_memory_bytes
    )
    capacity = max(0, kv_budget // per_token)
    fitting = (capacity // 1024) * 1024 if capacity >= SHORTEST_USEFUL_LEN else None
    weights_fit = per_gpu_weights + overhead < usable
    chosen = None
    if max_model_len is None and weights_fit and capacity < length and fitting:
        chosen = length = fitting  # a default the user never set must not cause a rejection
    return MemoryEstimate(
        model_source=shape.source,
        engine=engine,
        gpu_count=gpu_count,
        max_model_len=length,
        weights_bytes=total_weights,
        weights_per_gpu=per_gpu_weights,
        overhead_per_gpu=overhead,
        kv_bytes_per_token=per_token,
        kv_bytes_needed=per_token * length,
        usable_per_gpu=usable,
        kv_budget_per_gpu=max(0, kv_budget),
        kv_capacity_tokens=capacity,
        weights_fit=weights_fit,
        fits=weights_fit and capacity >= length,
        fitting_max_model_len=min(fitting, length) if fitting and weights_fit else None,
        chosen_max_model_len=chosen,
        share=share,
    )


def _budget(
    engine: EngineName,
    total: int,
    fixed: int,
    memory_share: float | None,
    kv_cache_memory_bytes: int | None,
) -> tuple[int, int, str]:
    """(usable bytes, KV budget bytes, description) for one GPU of `total` bytes, by the row's rule."""
    rule = engine_facts(engine).memory
    if rule.share == "gpu-share" and kv_cache_memory_bytes:
        return total, min(kv_cache_memory_bytes, total - fixed), f"{engine}: kv_cache_memory_bytes as set"
    if rule.share == "gpu-share":
        share = memory_share or rule.default_share or 1.0
        usable = int(total * share)
        return usable, usable - fixed, f"{engine} gpu_memory_utilization {share:g} of the GPU"
    if rule.share == "free-after-weights":
        fraction = memory_share or rule.default_share or 1.0
        return (
            total,
            int((total - fixed) * fraction),
            f"{engine}: weights first, then {fraction:g} of the rest for KV",
        )
    return total, total - fixed, f"{engine}: the whole GPU"
