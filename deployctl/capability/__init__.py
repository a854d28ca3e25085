"""Can this recipe work on this GPU, and how well? The capability table, GPU catalogue and memory fit.

Public API (everything else in the package is internal):

    from deployctl.capability import resolve_gpu, judge_recipe

    gpu = resolve_gpu(recipe)              # `auto` asks NVML (the only side effect); names use the catalogue
    verdict = judge_recipe(recipe, gpu=gpu)  # pure: table rows + recipe features + model shape + memory
    for text in verdict.warnings:          # fallback paths: the engine's own warning text
        out.warning(text)
    raise_if_rejected(verdict, recipe, file=path)  # CapabilityRejected: reason; fix + alternatives as hint

- `Verdict`: `level` (worst of `findings`: native < fallback < rejected), `ok`, `findings` (subject, level,
  reason, source, field, fix, warning), `alternatives` (nearest working combinations, ranked, ≤ 4),
  `gpu`, `memory` (a `MemoryEstimate`, or None when the model shape is unknown: the skip is a finding).
- `judge_combination(weights, kv, engine, gpu)`: the table alone, for `deployctl capabilities`.
- `lookup_gpu(name)` / `find_gpu(name)`: forgiving catalogue lookup (`RecipeError` with close matches /
  None); `CPU` is the pseudo-device for `gpu: cpu`.
- `estimate_memory(shape, ...)` and `resolve_shape(model_spec)`: the memory arithmetic and where shapes
  come from (local config.json, offline HF cache, data/models.yaml; never the network).

Data: data/capabilities.yaml (every row with its source), data/gpus.yaml, data/models.yaml.
"""

from deployctl.capability.catalogue import CPU, GpuInfo, find_gpu, load_catalogue, lookup_gpu
from deployctl.capability.judge import capability_matrix, judge_combination, judge_recipe
from deployctl.capability.memory import MemoryEstimate, estimate_memory
from deployctl.capability.resolve import resolve_gpu
from deployctl.capability.shapes import ModelShape, resolve_shape
from deployctl.capability.table import Level, load_table
from deployctl.capability.verdict import Alternative, Finding, Verdict, raise_if_rejected

__all__ = [
    "CPU",
    "Alternative",
    "Finding",
    "GpuInfo",
    "Level",
    "MemoryEstimate",
    "ModelShape",
    "Verdict",
    "capability_matrix",
    "estimate_memory",
    "find_gpu",
    "judge_combination",
    "judge_recipe",
    "load_catalogue",
    "load_table",
    "raise_if_rejected",
    "lookup_gpu",
    "resolve_gpu",
    "resolve_shape",
]
