"""GPU names: forgiving lookup, NVML names, and helpful errors for unknown GPUs."""

from __future__ import annotations

import pytest

from deployctl.capability import find_gpu, lookup_gpu
from deployctl.capability.catalogue import gpu_from_nvml
from deployctl.errors import RecipeError


@pytest.mark.parametrize(
    ("spelling", "expected"),
    [
        ("H100", "H100 SXM"),
        ("h100 sxm", "H100 SXM"),
        ("H100-SXM5-80GB", "H100 SXM"),
        ("NVIDIA H100 80GB HBM3", "H100 SXM"),
        ("nvidia h100 pcie", "H100 PCIe"),
        ("NVIDIA A100-SXM4-40GB", "A100 40GB"),
        ("Tesla T4", "T4"),
        ("NVIDIA GeForce RTX 4090", "RTX 4090"),
        ("rtx_4090", "RTX 4090"),
        ("NVIDIA RTX PRO 6000 Blackwell Server Edition", "RTX PRO 6000 Blackwell"),
        ("NVIDIA RTX 6000 Ada Generation", "RTX 6000 Ada"),
        ("  NVIDIA   H200 ", "H200"),
        ("CPU", "cpu"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_lookup_is_forgiving(spelling, expected):
    assert lookup_gpu(spelling).name == expected


def test_unknown_gpu_is_a_recipe_error_naming_close_matches():
    with pytest.raises(RecipeError) as caught:
        lookup_gpu("H100 SMX")
    assert caught.value.field == "gpu.type"
    assert "H100 SXM" in caught.value.hint


def test_unknown_gpu_far_from_anything_still_lists_known_names():
    with pytest.raises(RecipeError) as caught:
        lookup_gpu("Voodoo 5")
    assert "RTX 4090" in caught.value.hint and "cpu" in caught.value.hint


def test_nvml_name_in_the_catalogue_keeps_nvml_exact_memory():
    gpu = gpu_from_nvml("NVIDIA H100 80GB HBM3", 90, 81559 * 2**20)
    assert gpu.name == "H100 SXM" and gpu.memory_bytes == 81559 * 2**20


def test_nvml_gpu_outside_the_catalogue_is_judged_by_its_compute_capability():
    gpu = gpu_from_nvml("NVIDIA A40", 86, 48 * 2**30)
    assert gpu.arch == "ampere" and gpu.memory_gb == 48.0
    assert find_gpu("NVIDIA A40") is None


def test_cpu_is_a_pseudo_device_without_gpu_memory():
    cpu = lookup_gpu("cpu")
    assert cpu.is_cpu and cpu.memory_bytes == 0
