"""Fixtures for the quality tests: tiny models that learned the shipped corpus (trained once, cached).

The cache folder is `DEPLOYCTL_TEST_CACHE` (tests/run.sh points it into the CI cache, so a CI run
trains only when the training script, the architecture, the corpus or torch changed), else this
session's temporary folder.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    explicit = os.environ.get("DEPLOYCTL_TEST_CACHE")
    return Path(explicit) if explicit else tmp_path_factory.getbasetemp() / "test-models"


@pytest.fixture(scope="session")
def trained(model_cache: Path) -> Callable[[str], Path]:
    """trained(arch) -> the trained model folder (qwen3 or llama)."""
    from tests.quality.trained_model import trained_tiny_model

    return lambda arch: trained_tiny_model(arch, model_cache)
