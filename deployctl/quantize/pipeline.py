"""`prepare_checkpoint(recipe)`: the model folder an engine will load, quantized and cached if asked.

Flow: resolve the model → key → cache hit (milliseconds, no torch) or, under the key's lock,
load → base reference → calibrate → quality → export into a temp folder → manifest → rename.
Then the recipe's quality gate is checked, so a bad checkpoint is never served (but stays cached).
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from deployctl.capability.calibration_placement import CalibrationPlacement
from deployctl.checkpoint import Checkpoint
from deployctl.quantize import cache
from deployctl.quantize.calibration import dataset_fingerprint
from deployctl.quantize.formats import format_plan, is_quantized
from deployctl.quantize.manifest import Manifest
from deployctl.quantize.quality import enforce_gate
from deployctl.quantize.source import ResolvedModel, resolve_model
from deployctl.recipe.model import QuantizationSpec, Recipe

StepFn = Callable[[str], None]


@dataclass(frozen=True)
class Prepared:
    """The checkpoint plus what `deployctl quantize` prints (manifest is None for the base model)."""

    checkpoint: Checkpoint
    manifest: Manifest | None
    cache_hit: bool


def prepare_checkpoint(
    recipe: Recipe,
    *,
    progress: bool = True,
    on_step: StepFn | None = None,
    placement: CalibrationPlacement | None = None,
) -> Checkpoint:
    """What `deployctl apply` calls: the base model for `none`, else a cached or fresh quantized export;
    `placement` is where the plan said calibration runs (decided again here when None)."""
    return prepare(recipe, progress=progress, on_step=on_step, placement=placement).checkpoint


def prepare(
    recipe: Recipe,
    *,
    progress: bool = True,
    on_step: StepFn | None = None,
    placement: CalibrationPlacement | None = None,
) -> Prepared:
    step = on_step or (lambda _message: None)
    spec = recipe.quantization
    resolved = resolve_model(recipe.model)
    if not is_quantized(spec.format, spec.kv_cache):
        return Prepared(base_checkpoint(resolved), None, cache_hit=False)
    inputs = key_inputs(resolved, spec)
    key = cache.cache_key(inputs)
    manifest, hit = cache.lookup(key), True
    if manifest is None and placement is None:  # decided before the lock: a refusal leaves nothing behind
        from deployctl.quantize.room import place_folder

        placement = place_folder(resolved.path, spec)
    if manifest is None:
        waiting = lambda: step(f"another deployctl is quantizing {resolved.display} (key {key}); waiting")  # noqa: E731
        with cache.key_lock(key, on_wait=waiting):
            manifest = cache.lookup(key)
            if manifest is None:
                hit = False
                manifest = _quantize(
                    resolved, spec, key, inputs, progress=progress, step=step, placement=placement
                )
    path = cache.checkpoint_dir(key)
    enforce_gate(manifest.quality, spec.quality, path)
    return Prepared(quantized_checkpoint(manifest, path), manifest, cache_hit=hit)


def key_inputs(resolved: ResolvedModel, spec: QuantizationSpec) -> dict[str, Any]:
    """Everything the exported bytes depend on; the quality gate is checked later and is not part of it."""
    return {
        "model": resolved.content_key,
        "format": spec.format.value,
        "kv_cache": spec.kv_cache.value,
        **({"kv_cache_scales": "fixed"} if spec.kv_cache_scales == "fixed" else {}),  # older keys unchanged
        "calibration": dataset_fingerprint(spec.calibration),
        "modelopt": cache.modelopt_version(),
    }


def _quantize(
    resolved: ResolvedModel,
    spec: QuantizationSpec,
    key: str,
    inputs: dict[str, Any],
    *,
    progress: bool,
    step: StepFn,
    placement: CalibrationPlacement | None,
) -> Manifest:
    """Run the heavy part in a temp folder; nothing half-written survives an error or Ctrl-C."""
    from deployctl.quantize.run import quantize_into

    if removed := cache.remove_stale_work_dirs(key):
        step(f"removed {removed} unfinished folder(s) of an interrupted run")
    work_dir = cache.new_work_dir(key)
    try:
        # Model Optimizer prints progress on stdout; keep stdout for the command's result (--json).
        with contextlib.redirect_stdout(sys.stderr):
            manifest = quantize_into(
                work_dir, resolved, spec, key, inputs, progress=progress, step=step, placement=placement
            )
        cache.publish(work_dir, key)
    except BaseException:
        shutil.rmtree(work_dir, ignore_errors=True)
        raise
    return manifest


def base_checkpoint(resolved: ResolvedModel) -> Checkpoint:
    """The unquantized model as served; `quantize.lookup` builds the same from disk for `plan`."""
    return Checkpoint(
        path=resolved.path,
        key=resolved.content_key,
        source=resolved.display,
        revision=resolved.revision,
        # Engine-initialised weights have no size on disk; the shape gives it (capability.memory).
        size_bytes=None
        if resolved.dummy
        else sum(f.stat().st_size for f in resolved.path.glob("*.safetensors")),
    )


def quantized_checkpoint(manifest: Manifest, path: Any) -> Checkpoint:
    """A finished export described by its manifest (only a folder with a manifest is ever finished)."""
    from deployctl.recipe.model import KvCacheFormat, QuantFormat

    return Checkpoint(
        path=path,
        key=manifest.key,
        format=QuantFormat(manifest.format),
        kv_cache=KvCacheFormat(manifest.kv_cache),
        source=manifest.model,
        revision=manifest.model_revision,
        size_bytes=manifest.size_bytes,
    )


def describe_format(spec: QuantizationSpec) -> str:
    plan = format_plan(spec.format)
    kv = f", KV {spec.kv_cache.value}" if spec.kv_cache.value != "none" else ""
    return f"{spec.format.value} ({plan.config_name if plan else 'no weight quantization'}{kv})"
