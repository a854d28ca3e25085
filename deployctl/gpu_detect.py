"""NVML adapter: which NVIDIA GPUs this machine has. The only module that talks to the driver.

`pynvml` (package nvidia-ml-py) is imported inside `detect_gpus`, so importing this module costs nothing
and a machine without the driver gets a `GpuDetectionError` with a hint, never a traceback.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from deployctl.errors import GpuDetectionError

_NO_DRIVER_HINT = (
    "this machine has no NVIDIA driver/NVML (libnvidia-ml.so.1). Name the GPU in the recipe "
    "(gpu: 'H100 SXM'), use gpu: cpu for the CPU engines, or run on the GPU host"
)


@dataclass(frozen=True)
class DetectedGpu:
    """One GPU as NVML reports it."""

    index: int
    name: str
    sm: int  # compute capability as major*10+minor
    memory_bytes: int
    driver_version: str


def detect_gpus() -> list[DetectedGpu]:
    """All GPUs NVML sees, in index order; `GpuDetectionError` when there is no NVML or no GPU."""
    try:
        import pynvml
    except ImportError:
        raise GpuDetectionError(
            "the NVML bindings (nvidia-ml-py) are not installed", hint=_NO_DRIVER_HINT
        ) from None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        raise GpuDetectionError(f"cannot talk to the NVIDIA driver: {exc}", hint=_NO_DRIVER_HINT) from None
    try:
        return _read_all(pynvml)
    except pynvml.NVMLError as exc:
        raise GpuDetectionError(f"NVML failed while listing GPUs: {exc}", hint=_NO_DRIVER_HINT) from None
    finally:
        with contextlib.suppress(pynvml.NVMLError):
            pynvml.nvmlShutdown()


def _read_all(pynvml) -> list[DetectedGpu]:
    driver = _text(pynvml.nvmlSystemGetDriverVersion())
    gpus = []
    for index in range(pynvml.nvmlDeviceGetCount()):
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        major, minor = pynvml.nvmlDeviceGetCudaComputeCapability(handle)
        gpus.append(
            DetectedGpu(
                index=index,
                name=_text(pynvml.nvmlDeviceGetName(handle)),
                sm=int(major) * 10 + int(minor),
                memory_bytes=int(pynvml.nvmlDeviceGetMemoryInfo(handle).total),
                driver_version=driver,
            )
        )
    if not gpus:
        raise GpuDetectionError("NVML sees no GPU", hint=_NO_DRIVER_HINT)
    return gpus


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class GpuMemory:
    """One GPU's memory right now, as NVML reports it (NVML index order: PCI bus order)."""

    index: int
    name: str
    total_bytes: int
    free_bytes: int


def gpu_memory() -> list[GpuMemory]:
    """Free and total memory of every GPU; empty when there is no NVML or no GPU (the CPU remains)."""
    try:
        import pynvml

        pynvml.nvmlInit()
    except Exception:  # ImportError or NVMLError: no driver here, which is an answer, not an error
        return []
    try:
        found = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            info = pynvml.nvmlDeviceGetMemoryInfo(handle)
            name = _text(pynvml.nvmlDeviceGetName(handle))
            found.append(GpuMemory(index, name, int(info.total), int(info.free)))
        return found
    except pynvml.NVMLError as exc:
        raise GpuDetectionError(
            f"NVML failed while reading GPU memory: {exc}", hint=_NO_DRIVER_HINT
        ) from None
    finally:
        with contextlib.suppress(pynvml.NVMLError):
            pynvml.nvmlShutdown()
