"""Golden files: every input × every Kubernetes target it is valid for, committed and reviewed like code.

Regenerate after an intended change (then read the diff):
    DEPLOYCTL_REGENERATE_GOLDEN=1 python -m pytest tests/render/test_kubernetes_golden.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.render.test_kubernetes import CASE_IDS, CASES, GOLDEN, REGENERATE, rendered_text


def golden_path(path: str, target: str) -> Path:
    return GOLDEN / f"{Path(path).stem}.{target}.yaml"


@pytest.mark.parametrize(("path", "target"), CASES, ids=CASE_IDS)
def test_the_render_matches_its_golden_file(path, target) -> None:
    golden, text = golden_path(path, target), rendered_text(path, target)
    if os.environ.get("DEPLOYCTL_REGENERATE_GOLDEN") == "1":
        golden.write_text(text)
    assert golden.is_file(), f"{golden.name} is missing; regenerate with: {REGENERATE}"
    assert golden.read_text() == text, f"{golden.name} differs from the render; review, then: {REGENERATE}"


def test_no_golden_file_is_left_without_its_case() -> None:
    expected = {golden_path(path, target).name for path, target in CASES}
    orphans = {p.name for p in GOLDEN.glob("*.yaml")} - expected
    assert not orphans, f"golden files without a case: {sorted(orphans)}; delete them"
