"""Fixtures for the runtime tests: the tiny model every engine test serves."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.launch_helpers import tiny_model_dir


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model_dir(tmp_path_factory.getbasetemp())
