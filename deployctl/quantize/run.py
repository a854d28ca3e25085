"""One quantization run into a work folder: load, reference, calibrate, quality, export, manifest.

Imported only on a cache miss (it pulls in torch via its callees); `pipeline` owns locking and cleanup.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from deployctl import __version__
from deployctl.capability.calibration_placement import CalibrationPlacement
from deployctl.quantize import cache, calibration, export, quality, quantizer
from deployctl.quantize.cache import folder_size
from deployctl.quantize.formats import format_plan, needs_cuda_forward
from deployctl.quantize.manifest import Manifest, QualityReport
from deployctl.quantize.source import ResolvedModel
from deployctl.recipe.model import QuantizationSpec


def quantize_into(
    work_dir: Path,
    resolved: ResolvedModel,
    spec: QuantizationSpec,
    key: str,
    inputs: dict[str, Any],
    *,
    progress: bool,
    step: Callable[[str], None],
    placement: CalibrationPlacement | None = None,
) -> Manifest:
    """`placement` is the plan's; without one (deployctl quantize, or a model the plan could not see)
    it is decided here from the folder, the same way."""
    os.environ.setdefault(
        "CUDA_DEVICE_ORDER", "PCI_BUS_ID"
    )  # CUDA ordinals = NVML indices (quantize/room.py)
    import torch

    timings: dict[str, float] = {}
    started = time.perf_counter()
    placement = placement or _place(resolved, spec)
    device = placement.device
    texts = calibration.split_texts(calibration.load_texts(spec.calibration.dataset))
    peaks = _PeakMemory(placement)
    offload_dir = cache.new_work_dir(key) if placement.offload_to_disk else None
    try:
        step(f"loading {resolved.display}: {placement.summary()}")
        with _timed(timings, "load"):
            config = quantizer.build_quant_config(spec.format, spec.kv_cache, spec.kv_cache_scales)
            model = quantizer.load_model(resolved.path, placement, offload_dir)
            peaks.dispatched(model)
            tokenizer = _load_tokenizer(resolved.path)
            calib_ids, eval_batches = _token_data(tokenizer, texts, spec)
        with _timed(timings, "quality"):
            reference = quality.base_reference(model, eval_batches, device=device)

        cal = spec.calibration
        step(f"calibrating {spec.format.value}: {calib_ids.shape[0]} samples × {calib_ids.shape[1]} tokens")
        with _timed(timings, "calibrate"):
            loop = calibration.forward_loop(
                calib_ids, batch_size=cal.batch_size, device=device, progress=progress
            )
            quantizer.calibrate(model, config, loop)

        with _timed(timings, "quality"):
            report = _quality(model, reference, spec, device)
        del reference

        step("exporting the unified Hugging Face checkpoint")
        with _timed(timings, "export"), torch.no_grad():
            export.export_checkpoint(model, work_dir, resolved.path)
            section = export.verify_export(work_dir, spec.format, spec.kv_cache)
    finally:
        if offload_dir is not None:
            shutil.rmtree(offload_dir, ignore_errors=True)
    timings["total"] = time.perf_counter() - started

    manifest = _manifest(work_dir, resolved, spec, key, inputs, section, report, timings, device)
    manifest = manifest.model_copy(update={"calibration": peaks.report()})
    export.write_manifest(work_dir, manifest)
    return manifest


def _place(resolved: ResolvedModel, spec: QuantizationSpec) -> CalibrationPlacement:
    """The placement for a folder, or the default device when its shape cannot be read."""
    from deployctl.quantize.room import place_folder

    found = place_folder(resolved.path, spec)
    if found is not None:
        return found
    device = calibration.default_device()
    return CalibrationPlacement(
        kind="gpu" if device == "cuda" else "cpu", device=f"{device}:0" if device == "cuda" else device,
        gpus=(0,) if device == "cuda" else (), seconds=0.0,
        reason="config.json gives no shape to estimate from: the default device, unchecked",
    )  # fmt: skip


class _PeakMemory:
    """Measured peaks beside the plan's estimate: what `benchmarks/quantize.py` and placement.sh compare."""

    def __init__(self, placement: CalibrationPlacement) -> None:
        import torch

        self.placement = placement
        self.modules_on: dict[str, int] = {}
        self.cuda = torch.cuda.is_available() and bool(placement.gpus)
        if self.cuda:
            # The caching allocator exists only once CUDA is initialised: resetting its peaks before the
            # first allocation raises "Invalid device argument" (measured on an H200, torch 2.11).
            torch.cuda.init()
        for index in placement.gpus if self.cuda else ():
            torch.cuda.reset_peak_memory_stats(index)

    def dispatched(self, model: Any) -> None:
        """How many top-level modules accelerate put on each device (its map, when it made one)."""
        for device in (getattr(model, "hf_device_map", None) or {}).values():
            self.modules_on[str(device)] = self.modules_on.get(str(device), 0) + 1

    def report(self) -> dict[str, Any]:
        import resource

        import torch

        gpus = (
            {str(i): int(torch.cuda.max_memory_allocated(i)) for i in self.placement.gpus}
            if self.cuda
            else {}
        )
        return {
            "placement": self.placement.model_dump(mode="json"),
            "modules_on": self.modules_on,
            "measured_gpu_peak_bytes": gpus,
            "measured_host_peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        }


def _load_tokenizer(model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    from deployctl.errors import QuantizeError

    try:
        return AutoTokenizer.from_pretrained(model_dir)
    except Exception as exc:  # transformers raises OSError/ValueError/KeyError for broken tokenizers
        raise QuantizeError(
            f"cannot load the tokenizer of {model_dir}: {type(exc).__name__}",
            hint="calibration needs the model's tokenizer files (tokenizer.json or tokenizer.model)",
        ) from exc


def _token_data(
    tokenizer: Any, texts: calibration.TextSplit, spec: QuantizationSpec
) -> tuple[Any, list[Any]]:
    cal = spec.calibration
    calib = calibration.pack_tokens(
        tokenizer, texts.calibration, sequences=cal.samples, seq_len=cal.seq_len, repeat=True
    )
    eval_len = min(cal.seq_len, quality.EVAL_SEQ_LEN)
    held = calibration.pack_tokens(
        tokenizer, texts.held_out, sequences=spec.quality.eval_samples, seq_len=eval_len, repeat=False
    )
    return calib, list(held.split(cal.batch_size))


def _quality(
    model: Any, reference: quality.BaseReference, spec: QuantizationSpec, device: str
) -> QualityReport:
    if device == "cpu" and needs_cuda_forward(spec.format, spec.kv_cache):
        return quality.unavailable("needs CUDA (NVFP4 fake-quant runs on GPUs only)")
    return quality.compare(model, reference, device=device)


def _manifest(
    work_dir: Path,
    resolved: ResolvedModel,
    spec: QuantizationSpec,
    key: str,
    inputs: dict[str, Any],
    section: dict[str, Any],
    report: QualityReport,
    timings: dict[str, float],
    device: str,
) -> Manifest:
    plan = format_plan(spec.format)
    return Manifest(
        key=key,
        key_inputs=inputs,
        model=resolved.display,
        model_revision=resolved.revision,
        model_path=str(resolved.path),
        format=spec.format.value,
        kv_cache=spec.kv_cache.value,
        quant_algo=section.get("quant_algo"),
        kv_cache_quant_algo=section.get("kv_cache_quant_algo"),
        group_size=section.get("group_size") or (plan.group_size if plan else None),
        versions={name: _version(name) for name in ("nvidia-modelopt", "torch", "transformers")}
        | {"deployctl": __version__},
        device=device,
        timings_s={k: round(v, 3) for k, v in timings.items()},
        size_bytes=folder_size(work_dir),
        base_size_bytes=quantizer.weights_size(resolved.path),
        quality=report,
        created_at=time.time(),
    )


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"


class _timed:
    """Adds the block's wall time to timings[name] (quality is measured in two parts)."""

    def __init__(self, timings: dict[str, float], name: str) -> None:
        self.timings, self.name = timings, name

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.timings[self.name] = self.timings.get(self.name, 0.0) + time.perf_counter() - self.start
