"""Where calibration runs: a GPU with room, several GPUs in sequence, a capped GPU share with the rest
of the model in host RAM, the CPU, host RAM plus an offload folder on disk, or nowhere (refused before
any side effect, with the fix). Pure: the observed room comes in as data (`quantize.room` gathers it).

This is what Model Optimizer's own PTQ script does by hand (NVIDIA/Model-Optimizer
examples/hf_ptq/example_utils.py `get_model` and hf_ptq.py's arguments, @ a2fbac7b, 2026-08-21):
- `device_map="auto"`; when accelerate's map puts part of the model on the CPU, every GPU's
  `max_memory` is scaled by `--gpu_max_mem_percentage` (0.8) "so calibration does not hit OOM":
  activations come on top of the weights a budget admits;
- `--use_seq_device_map`: `device_map="sequential"` with each GPU capped, for several GPUs;
- `--offload_folder` with `--max_gpu_memory_gb` / `--max_cpu_memory_gb` (GiB, `int(x * 1024**3)`):
  accelerate's disk offload, always with `device_map="auto"` (not sequential, not `device_map="cpu"`,
  which "makes accelerate ignore the memory budgets").
deployctl sizes the budgets from the *observed free* memory minus the modelled activations instead of a
fixed share of the whole GPU, because a serving engine may hold most of it (vLLM at 0.85 leaves 18 GiB
of an H200). The coefficients live in data/calibration.yaml with their measurements.
"""

from __future__ import annotations

import math
from functools import cache
from importlib import resources
from typing import Any, Literal, NoReturn

import yaml
from pydantic import Field

from deployctl.capability.catalogue import GIB
from deployctl.capability.shapes import ModelShape
from deployctl.errors import CapabilityRejected
from deployctl.recipe.model import QuantFormat, QuantizationSpec
from deployctl.strict import StrictModel

EVAL_SEQ_LEN = 256  # quantize/quality.py EVAL_SEQ_LEN: held-out sequences are at most this long
FIELD = "quantization.device"

PlacementKind = Literal["gpu", "gpus", "gpu+cpu", "cpu", "cpu+disk"]


class Reservation(StrictModel):
    """A deployctl engine's claim on a GPU: vLLM reserves its share at start, before NVML shows it."""

    deployment: str
    share: float = Field(..., gt=0, le=1)


class GpuRoom(StrictModel):
    index: int = Field(..., ge=0, description="CUDA ordinal as the calibrating process sees it")
    name: str
    total_bytes: int = Field(..., gt=0)
    free_bytes: int = Field(..., ge=0, description="NVML, when observed")
    reservations: tuple[Reservation, ...] = ()

    @property
    def room_bytes(self) -> int:
        """Free now, less what a recorded engine may still claim (one that is starting has not yet)."""
        claimed = int(sum(r.share for r in self.reservations) * self.total_bytes)
        return max(0, min(self.free_bytes, self.total_bytes - claimed))

    def describe(self) -> str:
        held = ", ".join(f"{r.deployment} holds {r.share:g}" for r in self.reservations)
        return f"GPU {self.index} ({self.name}): {_gib(self.room_bytes)} free" + (f", {held}" if held else "")


class MachineRoom(StrictModel):
    """What calibration may use here, observed just before the plan."""

    gpus: tuple[GpuRoom, ...] = ()
    host_available_bytes: int = Field(..., ge=0, description="MemAvailable")
    disk_free_bytes: int | None = Field(None, ge=0, description="where the offload folder would be")


class CalibrationJob(StrictModel):
    """The calibration to place: the model as loaded (bf16 weights) and the recipe's token counts."""

    weights_bytes: int = Field(..., gt=0)
    shape: ModelShape
    format: QuantFormat
    samples: int
    seq_len: int
    batch_size: int
    eval_samples: int

    @property
    def bytes_per_param(self) -> float:
        """2 for bf16 checkpoints; tiny test models are float32."""
        return self.weights_bytes / max(1, self.shape.params)

    @property
    def layer_bytes(self) -> int:
        """One decoder layer (what accelerate streams in)."""
        rest = self.weights_bytes - self.shape.embedding_params * self.bytes_per_param
        return max(1, int(rest / self.shape.layers))

    @property
    def first_device_bytes(self) -> int:
        """The least the first device of a dispatched map must hold: the embeddings, the room accelerate
        reserves there for streaming its largest module in (accelerate utils/modeling.py
        `infer_auto_device_map`, max_layer_size), and a layer. accelerate fills devices in order and never goes back, so when the embeddings do not fit the
        first device the whole model lands on the next one (measured: a CPU budget below them put
        every module on disk, and Model Optimizer's export then failed on meta tensors)."""
        table = self.shape.vocab * self.shape.hidden * self.bytes_per_param
        reserve = max(self.layer_bytes, table)  # accelerate keeps its largest module's room free there
        return int(table + reserve + coefficients()["memory"]["min_layers"] * self.layer_bytes)

    @property
    def passes(self) -> int:
        """Forward passes over the model: calibration batches plus the quality report's two."""
        calib = math.ceil(self.samples / self.batch_size)
        return calib + 2 * math.ceil(self.eval_samples / self.batch_size)


class CalibrationPlacement(StrictModel):
    """Where and how the quantize step loads the model; `max_memory` keys are CUDA ordinals or "cpu"."""

    kind: PlacementKind
    device: str = Field(..., description="where calibration inputs go: cuda:N or cpu")
    gpus: tuple[int, ...] = ()
    device_map: Literal["single", "sequential", "auto"] = "single"  # single: the whole model on `device`
    max_memory: dict[str, int] = Field(default_factory=dict, description="accelerate budgets, bytes")
    offload_to_disk: bool = False
    gpu_peak_bytes: dict[str, int] = Field(default_factory=dict, description="modelled peak per GPU")
    host_peak_bytes: int = 0
    seconds: float
    reason: str

    @property
    def peak_gpu_bytes(self) -> int:
        return max(self.gpu_peak_bytes.values(), default=0)

    def summary(self) -> str:
        """One line for the plan: where, the modelled peak, the time, and why."""
        peak = (
            f"GPU peak ~{_gib(self.peak_gpu_bytes)}"
            if self.gpus
            else f"RAM peak ~{_gib(self.host_peak_bytes)}"
        )
        return f"calibration {self.where()}: {peak}, ~{self.seconds:.0f} s ({self.reason})"

    def where(self) -> str:
        gpus = ", ".join(map(str, self.gpus))
        if self.kind == "gpu":
            return f"on GPU {gpus}"
        if self.kind == "gpus":
            return f"on GPUs {gpus} (sequential map)"
        if self.kind == "gpu+cpu":
            cap = _gib(sum(self.max_memory[str(g)] for g in self.gpus))
            rest = "host RAM and an offload folder" if self.offload_to_disk else "host RAM"
            return f"on GPU {gpus} capped at {cap} of weights, the rest in {rest}"
        if self.kind == "cpu+disk":
            return (
                f"on the CPU, {_gib(self.max_memory.get('cpu', 0))} in RAM and the rest in an offload folder"
            )
        return "on the CPU"


@cache
def coefficients() -> dict[str, Any]:
    """data/calibration.yaml: the memory and time model, each number with its measurement."""
    data: dict[str, Any] = yaml.safe_load(
        resources.files("deployctl.data").joinpath("calibration.yaml").read_text()
    )
    return data


def activation_bytes(job: CalibrationJob) -> int:
    """One forward pass's transient memory: the larger of a calibration batch and a quality batch."""
    m, s = coefficients()["memory"], job.shape
    per_token = (
        s.layers * 2 * s.kv_heads * s.head_dim * m["kv_bytes_per_element"]
        + m["mlp_tensors"] * s.intermediate * 2
        + m["hidden_tensors"] * s.hidden * 2
    )
    calib_tokens = job.batch_size * job.seq_len
    eval_tokens = min(job.batch_size, job.eval_samples) * min(job.seq_len, EVAL_SEQ_LEN)
    peak: int = max(  # the coefficients are YAML numbers (Any to mypy)
        calib_tokens * (per_token + s.vocab * m["logits_bytes_per_vocab"]),
        eval_tokens * (per_token + s.vocab * m["quality_logits_bytes_per_vocab"]),
    )
    return peak


def whole_gpu_need(job: CalibrationJob) -> int:
    """Modelled peak with the whole model on one GPU (what the plan prints as the estimate)."""
    factor = coefficients()["memory"]["whole_gpu_factor"]
    return int((job.weights_bytes + activation_bytes(job)) * factor)


def place_calibration(job: CalibrationJob, room: MachineRoom, spec: QuantizationSpec) -> CalibrationPlacement:
    """The first that fits, in this order: one GPU whole, GPUs in sequence, capped GPUs + host RAM (+ disk),
    the CPU (+ disk). `quantization.device` restricts the choice; nothing fitting raises CapabilityRejected."""
    if spec.device == "cpu":
        return _on_host(job, room, spec, "quantization.device: cpu") or _refuse(job, room, spec, [])
    gpus = list(room.gpus)
    if spec.device.startswith("cuda:"):
        wanted = int(spec.device.removeprefix("cuda:"))
        gpus = [g for g in room.gpus if g.index == wanted]
        if not gpus:
            seen = ", ".join(f"cuda:{g.index}" for g in room.gpus) or "none"
            raise CapabilityRejected(
                f"quantization.device: {spec.device} is not a GPU of this machine (GPUs seen: {seen})",
                field=FIELD,
                hint="use quantization.device: auto, cpu, or one of the GPUs listed",
            )
    usable = sorted(gpus, key=lambda g: -g.room_bytes)
    found = (
        _whole(job, usable, spec)
        or _sequential(job, usable, room, spec)
        or _offloaded(job, usable, room, spec)
    )
    if found is None and spec.device == "auto":
        why = "no GPU visible" if not gpus else "no GPU has room for it"
        found = _on_host(job, room, spec, why)
    return found or _refuse(job, room, spec, gpus)


def _gpu_budget(job: CalibrationJob, gpu: GpuRoom, spec: QuantizationSpec, *, streamed: bool) -> int:
    """Weights this GPU may hold: its room less context, slack and activations (and a streamed layer)."""
    m = coefficients()["memory"]
    room = gpu.room_bytes * (1 - m["gpu_slack_fraction"]) - m["gpu_context_gib"] * GIB
    budget = room / m["offload_factor"] - activation_bytes(job) - (job.layer_bytes if streamed else 0)
    if spec.max_gpu_memory_gib is not None:
        budget = min(budget, spec.max_gpu_memory_gib * GIB)
    return max(0, int(budget))


def _useful(job: CalibrationJob, budget: int) -> bool:
    return budget >= job.first_device_bytes


def _whole(job: CalibrationJob, gpus: list[GpuRoom], spec: QuantizationSpec) -> CalibrationPlacement | None:
    m = coefficients()["memory"]
    need = whole_gpu_need(job)
    for gpu in gpus:  # most room first
        room = gpu.room_bytes * (1 - m["gpu_slack_fraction"]) - m["gpu_context_gib"] * GIB
        capped = spec.max_gpu_memory_gib is not None and job.weights_bytes > spec.max_gpu_memory_gib * GIB
        if need <= room and not capped:
            others = [g for g in gpus if g is not gpu]
            why = f"{gpu.describe()}, needs ~{_gib(need)}" + _busier(others, need)
            return CalibrationPlacement(
                kind="gpu", device=f"cuda:{gpu.index}", gpus=(gpu.index,),
                gpu_peak_bytes={str(gpu.index): need}, host_peak_bytes=_host_baseline(),
                seconds=_seconds(job, "gpu"), reason=why,
            )  # fmt: skip
    return None


def _sequential(
    job: CalibrationJob, gpus: list[GpuRoom], room: MachineRoom, spec: QuantizationSpec
) -> CalibrationPlacement | None:
    """Several GPUs: the fewest (most room first) whose budgets hold the weights; RAM only as a spare."""
    chosen, total = [], 0
    for gpu in gpus:
        budget = _gpu_budget(job, gpu, spec, streamed=False)
        if _useful(job, budget):
            chosen.append((gpu, budget))
            total += budget
        if total >= job.weights_bytes:
            break
    if len(chosen) < 2 or total < job.weights_bytes:
        return None
    chosen.sort(key=lambda pair: pair[0].index)  # accelerate fills budgets in key order
    peaks = _peaks(job, [(g, b) for g, b in chosen], job.weights_bytes, streamed=False)
    # As hf_ptq's sequential map, the CPU keeps a budget too: accelerate's own size accounting may leave
    # a module over, which then waits in RAM instead of failing for want of an offload folder.
    ram = (_host_split(job, room, spec, 0) or (0, 0))[0]
    why = "; ".join(g.describe() for g, _ in chosen)
    if spec.max_gpu_memory_gib is not None and job.weights_bytes > spec.max_gpu_memory_gib * GIB:
        why += f"; quantization.max_gpu_memory_gib: {spec.max_gpu_memory_gib:g} holds less than the weights"
    else:
        why += f"; no single GPU holds ~{_gib(whole_gpu_need(job))}"
    return CalibrationPlacement(
        kind="gpus", device=f"cuda:{chosen[0][0].index}", gpus=tuple(g.index for g, _ in chosen),
        device_map="sequential", max_memory={str(g.index): b for g, b in chosen} | {"cpu": ram},
        gpu_peak_bytes=peaks, host_peak_bytes=_host_baseline(), seconds=_seconds(job, "gpus"), reason=why,
    )  # fmt: skip


def _offloaded(
    job: CalibrationJob, gpus: list[GpuRoom], room: MachineRoom, spec: QuantizationSpec
) -> CalibrationPlacement | None:
    """Every GPU with a useful share, capped; the rest of the weights in host RAM, then on disk."""
    chosen = [(g, b) for g in gpus if _useful(job, b := _gpu_budget(job, g, spec, streamed=True))]
    if not chosen:
        return None
    on_gpus = min(job.weights_bytes, sum(b for _, b in chosen))
    spill = _host_split(job, room, spec, job.weights_bytes - on_gpus)
    if spill is None:
        return None
    ram, on_disk = spill
    in_ram = job.weights_bytes - on_gpus - on_disk
    chosen.sort(key=lambda pair: pair[0].index)
    budgets = {str(g.index): b for g, b in chosen} | {"cpu": ram}
    why = (
        "; ".join(g.describe() for g, _ in chosen)
        + f", less than the ~{_gib(whole_gpu_need(job))} needed whole"
    )
    if spec.max_gpu_memory_gib is not None:
        why += f"; quantization.max_gpu_memory_gib: {spec.max_gpu_memory_gib:g}"
    return CalibrationPlacement(
        kind="gpu+cpu", device=f"cuda:{chosen[0][0].index}", gpus=tuple(g.index for g, _ in chosen),
        device_map="auto", max_memory=budgets, offload_to_disk=on_disk > 0,
        gpu_peak_bytes=_peaks(job, chosen, on_gpus, streamed=True),
        host_peak_bytes=_host_baseline() + in_ram, seconds=_seconds(job, "gpu+cpu", on_gpus, on_disk), reason=why,
    )  # fmt: skip


def _on_host(
    job: CalibrationJob, room: MachineRoom, spec: QuantizationSpec, why: str
) -> CalibrationPlacement | None:
    spill = _host_split(job, room, spec, job.weights_bytes, activations=True)
    if spill is None:
        return None
    ram, on_disk = spill
    in_ram = job.weights_bytes - on_disk
    reason = f"{why}; host RAM {_gib(room.host_available_bytes)} available"
    if on_disk:
        return CalibrationPlacement(
            kind="cpu+disk", device="cpu", device_map="auto", max_memory={"cpu": ram}, offload_to_disk=True,
            host_peak_bytes=_host_baseline() + in_ram + activation_bytes(job),
            seconds=_seconds(job, "cpu", 0, on_disk), reason=reason,
        )  # fmt: skip
    return CalibrationPlacement(
        kind="cpu", device="cpu", host_peak_bytes=_host_baseline() + in_ram + activation_bytes(job),
        seconds=_seconds(job, "cpu"), reason=reason,
    )  # fmt: skip


def _host_split(
    job: CalibrationJob, room: MachineRoom, spec: QuantizationSpec, weights: int, *, activations: bool = False
) -> tuple[int, int] | None:
    """(host RAM budget, bytes beyond it for the offload folder) for `weights` left off the GPUs; None
    when even the disk cannot take them. The whole budget goes to accelerate, so that its own size
    accounting (it keeps a layer's room free on the first GPU) can spill into RAM rather than fail."""
    m = coefficients()["memory"]
    ram = room.host_available_bytes * (1 - m["host_slack_fraction"]) - _host_baseline()
    ram -= activation_bytes(job) if activations else 0
    if spec.max_cpu_memory_gib is not None:
        ram = min(ram, spec.max_cpu_memory_gib * GIB)
    ram = max(0, int(ram))
    spill = max(0, weights - ram)
    if spill and (
        room.disk_free_bytes is None or spill > room.disk_free_bytes * (1 - m["host_slack_fraction"])
    ):
        return None
    if spill and activations and ram < job.first_device_bytes:
        return None  # the CPU heads the map: below this accelerate would put the whole model on disk
    return ram, spill


def _peaks(
    job: CalibrationJob, chosen: list[tuple[GpuRoom, int]], weights: int, *, streamed: bool
) -> dict[str, int]:
    """Each GPU's modelled peak: its share of the weights, activations, a streamed layer."""
    factor = coefficients()["memory"]["offload_factor"]
    left, peaks = weights, {}
    for gpu, budget in chosen:
        held = min(budget, left)
        left -= held
        extra = activation_bytes(job) + (job.layer_bytes if streamed else 0)
        peaks[str(gpu.index)] = int((held + extra) * factor)
    return peaks


def _seconds(job: CalibrationJob, where: str, on_gpus: int | None = None, on_disk: int = 0) -> float:
    """Load + calibration passes (+ offloaded bytes crossing PCIe or read from disk per pass) + export."""
    t = coefficients()["time"]
    tokens = job.samples * job.seq_len + 2 * job.eval_samples * min(job.seq_len, EVAL_SEQ_LEN)
    flops = 2 * (job.weights_bytes / 2) * tokens
    compute = flops / (t["cpu_flops_per_s"] if where == "cpu" else t["gpu_flops_per_s"])
    if job.format.value in t["search_formats"]:
        compute *= t["search_factor"]
    streamed = 0.0
    if where == "gpu+cpu" and on_gpus is not None:
        streamed = (job.weights_bytes - on_gpus - on_disk) * job.passes / t["offload_bytes_per_s"]
    streamed += on_disk * job.passes / t["disk_bytes_per_s"]
    io = job.weights_bytes / t["load_bytes_per_s"] + job.weights_bytes / t["export_bytes_per_s"]
    seconds: float = round(compute + streamed + io, 1)
    return seconds


def _host_baseline() -> int:
    return int(coefficients()["memory"]["host_baseline_gib"] * GIB)


def _busier(others: list[GpuRoom], need: int) -> str:
    short = [g for g in others if g.room_bytes < need]
    return "".join(f"; {g.describe()}: too little" for g in short)


def _refuse(job: CalibrationJob, room: MachineRoom, spec: QuantizationSpec, gpus: list[GpuRoom]) -> NoReturn:
    seen = [g.describe() for g in gpus] or ["no GPU" if spec.device != "cpu" else "GPUs not considered"]
    disk = f", {_gib(room.disk_free_bytes)} free on disk" if room.disk_free_bytes is not None else ""
    holders = sorted({r.deployment for g in gpus for r in g.reservations})
    free_it = f"stop or shrink {', '.join(holders)} (engine.gpu_memory_utilization), " if holders else ""
    auto = "use quantization.device: auto, " if spec.device != "auto" else ""
    raise CapabilityRejected(
        f"nowhere to calibrate this model ({_gib(job.weights_bytes)} of weights; ~{_gib(whole_gpu_need(job))} "
        f"on one GPU, or at least {_gib(job.first_device_bytes)} of a GPU "
        f"plus host RAM for the rest) with quantization.device: {spec.device}",
        details=[*seen, f"host RAM: {_gib(room.host_available_bytes)} available{disk}"],
        field=FIELD,
        hint=f"{free_it}{auto}lower quantization.calibration.batch_size or seq_len, "
        "or quantize on a larger machine and point model.path at the export",
    )


def _gib(value: float | None) -> str:
    return f"{(value or 0) / GIB:.1f} GiB"
