"""Where calibration runs, decided from observed room: pure, table-driven; no GPU, no torch.

Machines are written as data the way quantize/room.py observes them (NVML free memory, the shares
deployctl's own vLLM engines claim, MemAvailable, free disk). The model is the Qwen3-8B shape of the
H200 measurements (16.4 GB of bf16 weights, 64×512 calibration tokens in batches of 8).
"""

from __future__ import annotations

import pytest

from deployctl.capability.calibration_placement import (
    CalibrationJob,
    GpuRoom,
    MachineRoom,
    Reservation,
    activation_bytes,
    place_calibration,
    whole_gpu_need,
)
from deployctl.capability.shapes import known_shapes
from deployctl.errors import CapabilityRejected
from deployctl.recipe.model import QuantFormat, QuantizationSpec

GIB = 2**30
H200 = int(140.4 * GIB)
Q8B = known_shapes()["qwen/qwen3-8b"]
Q32B = known_shapes()["qwen/qwen3-32b"]


def job(shape=Q8B, weights=16_381_517_208, batch=8) -> CalibrationJob:
    return CalibrationJob(
        weights_bytes=weights, shape=shape, format=QuantFormat.NVFP4, samples=64, seq_len=512,
        batch_size=batch, eval_samples=16,
    )  # fmt: skip


def idle(index: int, free_gib: float = 139.5) -> GpuRoom:
    return GpuRoom(index=index, name="NVIDIA H200", total_bytes=H200, free_bytes=int(free_gib * GIB))


def serving(index: int, share: float = 0.85) -> GpuRoom:
    """vLLM holding `share` of the GPU: what NVML then shows free (0.85 left 18.3 GiB, measured)."""
    free = max(0, int(H200 * (1 - share)) - int(2.7 * GIB))
    return GpuRoom(
        index=index, name="NVIDIA H200", total_bytes=H200, free_bytes=free,
        reservations=(Reservation(deployment="q8b", share=share),),
    )  # fmt: skip


def machine(*gpus: GpuRoom, ram_gib: float = 200, disk_gib: float | None = 500) -> MachineRoom:
    disk = None if disk_gib is None else int(disk_gib * GIB)
    return MachineRoom(gpus=gpus, host_available_bytes=int(ram_gib * GIB), disk_free_bytes=disk)


def spec(**fields) -> QuantizationSpec:
    return QuantizationSpec(format="nvfp4", **fields)


PLACED = [
    ("an idle GPU holds the whole model", job(), machine(idle(0)), spec(),
     {"kind": "gpu", "device": "cuda:0", "gpus": (0,), "device_map": "single"}),
    ("an engine holds 0.85 of GPU 0 and GPU 1 is idle: GPU 1", job(), machine(serving(0), idle(1)), spec(),
     {"kind": "gpu", "device": "cuda:1", "gpus": (1,)}),
    ("the one GPU is busy: a capped share, the rest in host RAM", job(), machine(serving(0)), spec(),
     {"kind": "gpu+cpu", "device": "cuda:0", "device_map": "auto", "offload_to_disk": False}),
    ("a 32B model on two GPUs with 40 GiB free each: a sequential map, no CPU", job(Q32B, 65_524_000_000),
     machine(idle(0, 40), idle(1, 40)), spec(), {"kind": "gpus", "gpus": (0, 1), "device_map": "sequential"}),
    ("a 32B model beside an engine on one GPU: capped share + host RAM", job(Q32B, 65_524_000_000),
     machine(serving(0)), spec(), {"kind": "gpu+cpu", "gpus": (0,)}),
    ("no GPU at all: the CPU", job(), machine(), spec(), {"kind": "cpu", "device": "cpu"}),
    ("no GPU and too little RAM: the CPU with an offload folder", job(), machine(ram_gib=12), spec(),
     {"kind": "cpu+disk", "device_map": "auto", "offload_to_disk": True}),
    ("device: cpu is honoured beside an idle GPU", job(), machine(idle(0)), spec(device="cpu"),
     {"kind": "cpu", "device": "cpu", "gpus": ()}),
    ("device: cuda:1 is honoured though GPU 0 has more room", job(), machine(idle(0), idle(1, 60)),
     spec(device="cuda:1"), {"kind": "gpu", "device": "cuda:1"}),
    ("device: cuda:0 busy: honoured with a capped share", job(), machine(serving(0), idle(1)),
     spec(device="cuda:0"), {"kind": "gpu+cpu", "device": "cuda:0", "gpus": (0,)}),
    ("max_gpu_memory_gib 8 caps an idle GPU", job(), machine(idle(0)), spec(max_gpu_memory_gib=8),
     {"kind": "gpu+cpu", "gpus": (0,)}),
    ("max_cpu_memory_gib forces the rest of a CPU run onto disk", job(), machine(), spec(max_cpu_memory_gib=4),
     {"kind": "cpu+disk", "offload_to_disk": True}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("job_", "room", "spec_", "expected"), [c[1:] for c in PLACED], ids=[c[0] for c in PLACED]
)
def test_placement(job_, room, spec_, expected) -> None:
    placed = place_calibration(job_, room, spec_)
    assert {key: getattr(placed, key) for key in expected} == expected
    for gpu in room.gpus:  # never plans more than a GPU has
        assert placed.gpu_peak_bytes.get(str(gpu.index), 0) <= gpu.room_bytes
    if placed.device_map != "single":
        assert placed.max_memory, "a dispatched model needs budgets"
    if spec_.max_gpu_memory_gib is not None:
        assert all(placed.max_memory[str(g)] <= spec_.max_gpu_memory_gib * GIB for g in placed.gpus)
    if spec_.max_cpu_memory_gib is not None:
        assert placed.max_memory["cpu"] <= spec_.max_cpu_memory_gib * GIB
    assert placed.seconds > 0
    assert placed.where() in placed.summary()


def test_a_cap_that_splits_the_model_is_named_as_the_reason() -> None:
    # Measured on two idle H200s (2026-11-30): a 40 GiB cap spread a 32B model over both GPUs, and the
    # reason said "no single GPU holds ~93.3 GiB" though each had 139.8 GiB free.
    placed = place_calibration(
        job(Q32B, 65_524_000_000), machine(idle(0), idle(1)), spec(max_gpu_memory_gib=40)
    )
    assert (placed.kind, placed.gpus) == ("gpus", (0, 1))
    assert "quantization.max_gpu_memory_gib: 40" in placed.reason
    assert "no single GPU" not in placed.reason


def test_the_busy_gpu_share_leaves_room_for_activations_and_the_context() -> None:
    """18.3 GiB free beside vLLM at 0.85: the weights' cap plus activations stays under what is free,
    as the H200 run needed (15 GiB cap → 16.7 GiB peak allocated)."""
    placed = place_calibration(job(), machine(serving(0)), spec())
    cap = placed.max_memory["0"]
    assert cap + activation_bytes(job()) < serving(0).room_bytes - GIB
    assert 10 * GIB < cap < 16 * GIB
    assert placed.max_memory["cpu"] >= job().weights_bytes - cap
    assert "q8b holds 0.85" in placed.reason


def test_an_engine_that_has_not_allocated_yet_still_counts() -> None:
    """NVML shows the GPU free, but state says a vLLM engine at 0.85 is (re)starting on it."""
    starting = idle(0).model_copy(update={"reservations": (Reservation(deployment="q8b", share=0.85),)})
    placed = place_calibration(job(), machine(starting, idle(1)), spec())
    assert placed.device == "cuda:1"
    assert "GPU 0" in placed.reason and "too little" in placed.reason


def test_the_estimate_is_at_least_the_measured_h100_peak() -> None:
    """The whole-GPU estimate covers the 26.80 GB measured for this shape (the old one said 19.8 GiB)."""
    assert whole_gpu_need(job()) >= 26_797_668_352


REFUSED = [
    ("nothing fits, not even host RAM, and no disk", machine(serving(0), ram_gib=3, disk_gib=None), spec(),
     ["nowhere to calibrate", "GPU 0", "host RAM: 3.0 GiB"], ["stop or shrink q8b", "batch_size"]),
    ("device: cuda:3 on a machine with two GPUs", machine(idle(0), idle(1)), spec(device="cuda:3"),
     ["cuda:3 is not a GPU of this machine", "cuda:0, cuda:1"], ["quantization.device: auto"]),
    ("device: cuda:0 with no room there and no host RAM: not moved elsewhere", machine(serving(0, 0.99), idle(1), ram_gib=4, disk_gib=None),
     spec(device="cuda:0"), ["with quantization.device: cuda:0"], ["quantization.device: auto"]),
    ("device: cpu with too little RAM and no disk", machine(idle(0), ram_gib=8, disk_gib=None), spec(device="cpu"),
     ["nowhere to calibrate", "GPUs not considered"], ["quantization.device: auto"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("room", "spec_", "says", "fix"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED]
)
def test_refused_with_the_fix(room, spec_, says, fix) -> None:
    with pytest.raises(CapabilityRejected) as caught:
        place_calibration(job(), room, spec_)
    error = caught.value
    text = " ".join([error.message, *error.details])
    assert all(word in text for word in says), text
    assert error.field == "quantization.device"
    assert all(word in (error.hint or "") for word in fix), error.hint
