"""What calibration may use on this machine now, and where it will therefore run.

The side-effect half of `capability.calibration_placement`: free memory per GPU (NVML), host RAM
(MemAvailable), free disk where an offload folder would go, and the GPU shares deployctl's own engines
claim (their recorded LaunchSpecs). The decision itself is pure and lives there.
No torch here: the plan runs this, and `deployctl plan` must stay fast.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from deployctl import settings
from deployctl.capability.calibration_placement import (
    CalibrationJob,
    CalibrationPlacement,
    GpuRoom,
    MachineRoom,
    Reservation,
    place_calibration,
)
from deployctl.capability.shapes import ModelShape, resolve_shape, shape_from_config_file
from deployctl.engine_facts import engine_facts
from deployctl.recipe.model import QuantizationSpec, Recipe


def place(
    recipe: Recipe, model_dir: Path | None, *, not_running: Iterable[str] = ()
) -> CalibrationPlacement | None:
    """Where the recipe's calibration runs; None when the model's shape is not known here yet (the
    quantize step decides again once the model is on disk). Raises CapabilityRejected when nowhere fits."""
    if model_dir is not None:
        return place_folder(model_dir, recipe.quantization, not_running=not_running)
    shape = resolve_shape(recipe.model)
    if shape is None:
        return None
    job = calibration_job(recipe.quantization, shape, shape.params * 2)  # bf16, as Hub checkpoints ship
    return place_calibration(job, observe_room(not_running=frozenset(not_running)), recipe.quantization)


def place_folder(
    model_dir: Path, spec: QuantizationSpec, *, not_running: Iterable[str] = ()
) -> CalibrationPlacement | None:
    """The same for a model folder on disk: config.json for the shape, safetensors sizes for the weights."""
    shape = shape_from_config_file(model_dir / "config.json")
    weights = sum(p.stat().st_size for p in model_dir.glob("*.safetensors"))
    if shape is None or weights <= 0:
        return None
    job = calibration_job(spec, shape, weights)
    return place_calibration(job, observe_room(not_running=frozenset(not_running)), spec)


def calibration_job(spec: QuantizationSpec, shape: ModelShape, weights_bytes: int) -> CalibrationJob:
    cal = spec.calibration
    return CalibrationJob(
        weights_bytes=weights_bytes, shape=shape, format=spec.format, samples=cal.samples,
        seq_len=cal.seq_len, batch_size=cal.batch_size, eval_samples=spec.quality.eval_samples,
    )  # fmt: skip


def observe_room(*, not_running: frozenset[str] = frozenset()) -> MachineRoom:
    from deployctl.gpu_detect import gpu_memory

    claims = engine_claims(not_running)
    ordinals = _cuda_ordinals()
    gpus = []
    for gpu in gpu_memory():
        ordinal = ordinals.get(gpu.index, gpu.index) if ordinals is not None else gpu.index
        if ordinals is not None and gpu.index not in ordinals:
            continue  # hidden from this process by CUDA_VISIBLE_DEVICES
        gpus.append(
            GpuRoom(
                index=ordinal,
                name=gpu.name,
                total_bytes=gpu.total_bytes,
                free_bytes=gpu.free_bytes,
                reservations=tuple(claims.get(gpu.index, ())),
            )  # fmt: skip
        )
    return MachineRoom(
        gpus=tuple(sorted(gpus, key=lambda g: g.index)),
        host_available_bytes=host_available_bytes(),
        disk_free_bytes=_disk_free(settings.cache_dir()),
    )


def engine_claims(not_running: frozenset[str] = frozenset()) -> dict[int, list[Reservation]]:
    """GPU index → the shares deployctl's recorded engines reserve there (engines whose row says gpu-share).

    vLLM takes `gpu_memory_utilization` of the whole GPU at start (capability/swap.py cites where);
    other engines size themselves from what is free, so NVML's figure already covers them. An engine
    is pinned by CUDA_VISIBLE_DEVICES in its env, else it uses GPUs 0..gpu_count-1.
    """
    from deployctl.state import StateStore

    claims: dict[int, list[Reservation]] = {}
    for state in StateStore().list():
        spec = state.spec
        if state.name in not_running or spec.gpu_count < 1:
            continue
        memory = engine_facts(str(spec.engine)).memory
        if memory.share != "gpu-share":  # sized from what is free: NVML's figure already covers it
            continue
        share = spec.engine_args.gpu_memory_utilization or memory.default_share
        for index in _pinned(spec.env.get("CUDA_VISIBLE_DEVICES")) or range(spec.gpu_count):
            claims.setdefault(index, []).append(Reservation(deployment=state.name, share=share))
    return claims


def host_available_bytes() -> int:
    """MemAvailable (what can be allocated without swapping), else total physical memory."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def _cuda_ordinals() -> dict[int, int] | None:
    """NVML index → CUDA ordinal when CUDA_VISIBLE_DEVICES lists indices; None when unset.

    The quantize step sets CUDA_DEVICE_ORDER=PCI_BUS_ID (NVML's order) before CUDA starts, so without
    CUDA_VISIBLE_DEVICES the two numberings agree."""
    pinned = _pinned(os.environ.get("CUDA_VISIBLE_DEVICES"))
    return None if pinned is None else {nvml: cuda for cuda, nvml in enumerate(pinned)}


def _pinned(value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        return [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        return None  # GPU UUIDs: left to NVML's order


def _disk_free(folder: Path) -> int | None:
    for candidate in (folder, *folder.parents):
        if candidate.exists():
            return shutil.disk_usage(candidate).free
    return None
