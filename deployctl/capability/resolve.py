"""From the recipe's `gpu:` to a `GpuInfo`: the only capability function that may ask NVML (for `auto`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from deployctl.capability.catalogue import CPU, GpuInfo, gpu_from_nvml, lookup_gpu
from deployctl.errors import CapabilityRejected, DeployctlError, RecipeError
from deployctl.recipe.lines import recipe_file, recipe_line
from deployctl.recipe.model import Recipe


def resolve_gpu(
    recipe: Recipe, *, file: Path | str | None = None, detect: Callable[[], list[Any]] | None = None
) -> GpuInfo:
    """`cpu` → the CPU pseudo-device; a name → its catalogue row (`RecipeError` if unknown);
    `auto` → GPU 0 as NVML sees it (`detect` defaults to `gpu_detect.detect_gpus`).

    `file` (the recipe path) goes into the location of any error. With `auto`, fewer GPUs than `gpu.count` is a `CapabilityRejected`; mixed GPUs are judged by the one
    with the least memory, so a verdict never promises more than the smallest card holds.
    """
    file = file if file is not None else recipe_file(recipe)
    kind = recipe.gpu.type.strip().lower()
    if kind == "cpu":
        return CPU
    if kind != "auto":
        try:
            return lookup_gpu(recipe.gpu.type)
        except RecipeError as error:
            error.file = error.file or file
            error.line = error.line or recipe_line(recipe, "gpu.type")
            raise
    if detect is None:
        from deployctl.gpu_detect import detect_gpus

        detect = detect_gpus
    try:
        found = detect()
    except DeployctlError as error:  # no driver: the recipe asked for `auto`, so name where
        error.file = error.file or file
        error.field = error.field or "gpu.type"
        error.line = error.line or recipe_line(recipe, "gpu.type")
        raise
    if len(found) < recipe.gpu.count:
        raise CapabilityRejected(
            f"the recipe asks for {recipe.gpu.count} GPUs; NVML sees {len(found)} ({found[0].name})",
            field="gpu.count",
            file=file,
            line=recipe_line(recipe, "gpu.count"),
            hint=f"set gpu.count: {len(found)} or run on a host with more GPUs",
        )
    used = found[: recipe.gpu.count]
    smallest = min(used, key=lambda gpu: gpu.memory_bytes)
    return gpu_from_nvml(smallest.name, smallest.sm, smallest.memory_bytes)
