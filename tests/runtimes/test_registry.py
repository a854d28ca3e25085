"""Runtime lookup, and observation that survives an unreachable container engine."""

from __future__ import annotations

import pytest

from deployctl.recipe.model import RuntimeKind, RuntimeSpec
from deployctl.runtimes.docker import DockerRuntime
from deployctl.runtimes.process import ProcessRuntime
from deployctl.runtimes.registry import find_everywhere, get_runtime
from tests.launch_helpers import fake_spec, free_port, group_alive


@pytest.mark.parametrize(
    ("kind", "expected_type", "python"),
    [
        pytest.param("docker", DockerRuntime, None, id="docker by name, without connecting"),
        pytest.param(RuntimeKind.PROCESS, ProcessRuntime, None, id="process by kind uses PATH"),
        pytest.param(
            RuntimeSpec(kind="process", python="/opt/engine/bin/python"),
            ProcessRuntime,
            "/opt/engine/bin/python",
            id="the recipe's runtime section carries its interpreter",
        ),
    ],
)
def test_get_runtime(kind, expected_type, python) -> None:
    runtime = get_runtime(kind)
    assert isinstance(runtime, expected_type)
    assert getattr(runtime, "python", None) == python


@pytest.mark.integration
def test_processes_are_found_when_the_container_engine_is_unreachable(monkeypatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    runtime = ProcessRuntime()
    handle = runtime.launch(fake_spec(free_port(), "ok", deployment="seen"))
    try:
        handles, unreachable = find_everywhere("seen")
        assert handles == [handle]
        assert "unix:///nonexistent/docker.sock" in unreachable[RuntimeKind.DOCKER]
    finally:
        runtime.remove(handle)
    assert not group_alive(int(handle.id))
