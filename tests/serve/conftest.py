"""Fixtures for the health and smoke tests: the tiny model served by the real-engine tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from deployctl.runtimes.process import ProcessRuntime
from tests.launch_helpers import group_alive, tiny_model_dir


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model_dir(tmp_path_factory.getbasetemp())


@pytest.fixture
def runtime() -> Iterator[ProcessRuntime]:
    """A process runtime whose every launched instance (fake or real engine) is removed, and checked
    gone, after the test."""
    runtime = ProcessRuntime()
    yield runtime
    for handle in runtime.find():
        runtime.remove(handle)
        assert not group_alive(int(handle.id)), f"{handle.name} still has live processes"
    assert runtime.find() == []
