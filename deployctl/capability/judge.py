"""`judge_recipe`: one place that decides whether a recipe can work, before any side effect.

Pure: no NVML, no network. The caller resolves `gpu: auto` first (`resolve_gpu`), and may pass the
model shape; otherwise it is read from local files only (`shapes.resolve_shape`).
"""

from __future__ import annotations

import math
from typing import Any

from deployctl.capability.assess import Combination, assess, table_findings
from deployctl.capability.catalogue import GpuInfo, find_gpu, load_catalogue, lookup_gpu
from deployctl.capability.memory import MemoryEstimate
from deployctl.capability.shapes import ModelShape, resolve_shape
from deployctl.capability.swap_strategy import choose_swap
from deployctl.capability.table import Level, RowContext, pinned_version
from deployctl.capability.verdict import Alternative, Finding, Verdict
from deployctl.engine_facts import engine_facts
from deployctl.engine_version import JudgedVersion
from deployctl.recipe.model import EngineName, KvCacheFormat, QuantFormat, Recipe

MAX_ALTERNATIVES = 4
MAX_SAME_GPU = 3
# Effective bits per weight: "nearest" alternative formats keep the compression the operator asked for.
_BITS = {
    QuantFormat.NONE: 16,
    QuantFormat.FP8: 8,
    QuantFormat.FP8_PC_PT: 8,
    QuantFormat.INT8_SQ: 8,
    QuantFormat.NVFP4: 4.5,
    QuantFormat.W4A16_AWQ: 4.25,
    QuantFormat.W4A8_AWQ: 4.25,
}


def judge_recipe(
    recipe: Recipe,
    *,
    gpu: GpuInfo | None = None,
    shape: ModelShape | None = None,
    version: JudgedVersion | None = None,
) -> Verdict:
    """The verdict for the recipe on `gpu` (default: the recipe's named GPU; `auto` must be resolved),
    judged for the engine `version` that will run (default: the pinned image's)."""
    gpu = gpu or _named_gpu(recipe)
    shape = shape or resolve_shape(recipe.model)
    version = version or pinned(recipe.engine.name)
    context = RowContext(
        engine=recipe.engine.name,
        version=version.version,
        model_type=model_type_of(recipe, shape),
        kv_scales=recipe.quantization.kv_cache_scales,
    )
    combo = Combination.of(recipe)
    findings, memory = assess(recipe, combo, gpu, total_gpus(recipe), shape, context)
    level = Level.worst([f.level for f in findings])
    alternatives = () if level is Level.NATIVE else find_alternatives(recipe, combo, gpu, shape, context)
    # After the alternatives: another format or GPU is no answer to a swap the runtime cannot do.
    swap, swap_findings = choose_swap(recipe, gpu, shape, memory)
    findings += swap_findings
    level = Level.worst([f.level for f in findings])
    return Verdict(
        weights=combo.weights,
        kv_cache=combo.kv,
        engine=combo.engine,
        gpu=gpu,
        gpu_count=total_gpus(recipe),
        level=level,
        findings=tuple(findings),
        alternatives=alternatives,
        memory=memory,
        swap=swap,
        engine_version=version,
    )


def pinned(engine: EngineName) -> JudgedVersion:
    """The version of the pinned image: what a verdict is judged for when nothing else is known."""
    from deployctl.engine_facts import engine_facts

    return JudgedVersion(
        engine=engine.value,
        version=pinned_version(engine),
        source=f"pinned image {engine_facts(engine).image}",
    )


def model_type_of(recipe: Recipe, shape: ModelShape | None) -> str | None:
    """config.json's model_type when a local config says it; tiny-<arch> generated models are <arch>."""
    if shape is not None and shape.model_type:
        return shape.model_type
    generated = recipe.model.generate
    return generated.removeprefix("tiny-") if generated else None


def judge_combination(
    weights: QuantFormat,
    kv: KvCacheFormat,
    engine: EngineName,
    gpu: GpuInfo,
    version: JudgedVersion | None = None,
) -> Verdict:
    """Format × KV × engine on a GPU, without a recipe or a model (what `deployctl capabilities` shows)."""
    version = version if version is not None and version.engine == engine.value else pinned(engine)
    combo = Combination(weights, kv, engine)
    findings = table_findings(combo, gpu, RowContext(engine=engine, version=version.version))
    return Verdict(
        weights=weights,
        kv_cache=kv,
        engine=engine,
        gpu=gpu,
        level=Level.worst([f.level for f in findings]),
        findings=tuple(findings),
        engine_version=version,
    )


def capability_matrix(
    gpus: list[GpuInfo],
    *,
    engines: list[EngineName] | None = None,
    formats: list[QuantFormat] | None = None,
    kv_formats: list[KvCacheFormat] | None = None,
    versions: dict[EngineName, JudgedVersion] | None = None,
) -> list[Verdict]:
    """`judge_combination` over every requested GPU × format × KV × engine (all when not filtered),
    each engine at `versions[engine]` (default: its pinned version)."""
    return [
        judge_combination(weights, kv, engine, gpu, (versions or {}).get(engine))
        for weights in formats or list(QuantFormat)
        for kv in kv_formats or list(KvCacheFormat)
        for engine in engines or list(EngineName)
        for gpu in gpus
    ]


def _named_gpu(recipe: Recipe) -> GpuInfo:
    if recipe.gpu.type.strip().lower() == "auto":
        raise ValueError("gpu: auto must be resolved first: judge_recipe(recipe, gpu=resolve_gpu(recipe))")
    return lookup_gpu(recipe.gpu.type)


def find_alternatives(
    recipe: Recipe,
    current: Combination,
    gpu: GpuInfo,
    shape: ModelShape | None,
    context: RowContext | None = None,
) -> tuple[Alternative, ...]:
    """Nearest working combinations: same GPU first (other format/KV/engine), then other GPUs."""
    same = sorted(_same_gpu_candidates(recipe, current, gpu, shape, context), key=lambda c: _rank(c, current))
    chosen = same[:MAX_SAME_GPU]
    others = _other_gpu_candidates(recipe, current, gpu, shape, context)
    chosen += others[: MAX_ALTERNATIVES - len(chosen)]
    return tuple(chosen)


def _same_gpu_candidates(
    recipe: Recipe, current: Combination, gpu: GpuInfo, shape: ModelShape | None, context: RowContext | None
) -> list[Alternative]:
    found = []
    for engine in EngineName:
        for weights in QuantFormat:
            for kv in KvCacheFormat:
                combo = Combination(weights, kv, engine)
                if combo == current:
                    continue
                alternative = _try(recipe, combo, gpu, total_gpus(recipe), shape, context)
                if alternative is not None:
                    found.append(alternative)
    return found


def _other_gpu_candidates(
    recipe: Recipe, current: Combination, gpu: GpuInfo, shape: ModelShape | None, context: RowContext | None
) -> list[Alternative]:
    """The same combination on more of the same GPU, then on other catalogue GPUs, smallest first."""
    found = []
    if not gpu.is_cpu and find_gpu(gpu.name) is not None:
        more = _try(recipe, current, gpu, total_gpus(recipe) * 2, shape, context)
        if more is not None:
            found.append(more)
    by_memory = sorted(load_catalogue().gpus, key=lambda g: (g.memory_gb, g.sm))
    for other in by_memory:
        if other.name == gpu.name:
            continue
        alternative = _try(recipe, current, other, total_gpus(recipe), shape, context)
        if alternative is not None:
            found.append(alternative)
    return sorted(found, key=lambda a: a.level.rank)  # stable: smallest GPU first within a level


def _try(
    recipe: Recipe,
    combo: Combination,
    gpu: GpuInfo,
    count: int,
    shape: ModelShape | None,
    context: RowContext | None = None,
) -> Alternative | None:
    """An Alternative when the combination would work, possibly with a shorter max_model_len."""
    if engine_facts(combo.engine).development_engine and not gpu.is_cpu:
        return None  # judged when a recipe names it; never offered as the way to serve a model on a GPU
    findings, _memory = assess(recipe, combo, gpu, count, shape, context)
    rejected = [f for f in findings if f.level is Level.REJECTED]
    note = None
    if rejected and all(f.subject == "memory" and f.fitting_max_model_len for f in rejected):
        note = f"with engine.max_model_len: {rejected[0].fitting_max_model_len}"
        rejected = []
    if rejected:
        return None
    level = Level.worst([f.level for f in findings if f.level is not Level.REJECTED])
    return Alternative(
        weights=combo.weights,
        kv_cache=combo.kv,
        engine=combo.engine,
        gpu=gpu.name,
        gpu_count=count,
        level=level,
        note=note,
    )


def _rank(alternative: Alternative, current: Combination) -> tuple[Any, ...]:
    """Native before fallback; fewer changes; closest bits per weight; no length cut."""
    changes = (
        (alternative.weights is not current.weights)
        + (alternative.kv_cache is not current.kv)
        + (alternative.engine is not current.engine)
    )
    bits = abs(math.log2(_BITS[alternative.weights] / _BITS[current.weights]))
    beta = alternative.weights is QuantFormat.W4A8_AWQ  # Model Optimizer's preset is `w4a8_awq_beta`
    return (alternative.level.rank, alternative.note is not None, changes, round(bits + beta, 2))


__all__ = [
    "capability_matrix",
    "find_alternatives",
    "judge_combination",
    "judge_recipe",
    "Finding",
    "MemoryEstimate",
]


def total_gpus(recipe: Recipe) -> int:
    """GPUs that share the weights and KV cache: tensor parallel per node × nodes (pipeline parallel)."""
    return recipe.gpu.count * recipe.gpu.nodes
