"""The data files validate, every row names its source, and the table covers every combination."""

from __future__ import annotations

import itertools

from deployctl.capability import load_catalogue, load_table
from deployctl.capability.catalogue import CPU_FAMILY
from deployctl.capability.shapes import known_shapes
from deployctl.capability.table import serving_rows
from deployctl.recipe.model import EngineName, KvCacheFormat, QuantFormat

REQUIRED_GPUS = {
    "T4",
    "A10G",
    "L4",
    "L40S",
    "A100 40GB",
    "A100 80GB",
    "H100 PCIe",
    "H100 SXM",
    "H200",
    "B200",
    "GB200",
    "RTX 3090",
    "RTX 4090",
    "RTX 5090",
    "RTX 6000 Ada",
    "RTX PRO 6000 Blackwell",
}


def test_catalogue_has_the_required_gpus_each_with_a_source_url():
    gpus = load_catalogue().gpus
    assert {gpu.name for gpu in gpus} >= REQUIRED_GPUS
    assert all(gpu.source.startswith("https://") and gpu.memory_gb > 0 for gpu in gpus)


def test_every_table_row_names_a_source():
    table = load_table()
    rows = [*table.serving, *table.calibration, *table.features]
    assert len(rows) > 40
    assert all(len(row.source) >= 8 for row in rows)


def test_every_combination_is_covered_by_a_serving_row():
    families = [arch.family for arch in load_catalogue().architectures] + [CPU_FAMILY]
    missing = [
        combo
        for combo in itertools.product(QuantFormat, KvCacheFormat, EngineName, families)
        if not serving_rows(*combo)
    ]
    assert not missing


def test_no_combination_is_both_native_and_fallback_from_weight_rows_alone():
    """Two weight rows for the same combination would make the reason ambiguous."""
    families = [arch.family for arch in load_catalogue().architectures] + [CPU_FAMILY]
    for weights, engine, family in itertools.product(QuantFormat, EngineName, families):
        rows = [r for r in serving_rows(weights, KvCacheFormat.NONE, engine, family) if r.weights != "any"]
        assert len(rows) <= 1, (weights, engine, family, [r.reason for r in rows])


def test_known_model_shapes_match_the_published_parameter_counts():
    billions = {name: shape.params / 1e9 for name, shape in known_shapes().items()}
    assert round(billions["qwen/qwen3-0.6b"], 2) == 0.60
    assert round(billions["qwen/qwen3-8b"], 1) == 8.2
    assert round(billions["qwen/qwen3-32b"], 1) == 32.8
    assert round(billions["meta-llama/llama-3.1-8b"], 2) == 8.03
    assert round(billions["meta-llama/llama-3.1-70b"], 1) == 70.6
