"""How a LaunchSpec becomes container options, and what an absent engine says (no container engine needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from deployctl.errors import RuntimeUnavailable
from deployctl.instance import LABEL_ENDPOINT
from deployctl.launch_spec import LABEL_DEPLOYMENT, LABEL_MANAGED, LABEL_ROLE, GeneratedFile, Mount
from deployctl.runtimes.docker import DockerRuntime, container_options
from tests.launch_helpers import fake_spec


def options(**updates: object) -> dict:
    spec = fake_spec(updates.pop("port", 8000), "ok", deployment="demo", **updates)
    return container_options(spec, name="deployctl-demo", role="active", env={"A": "1"}, files={})


@pytest.mark.parametrize(
    ("image", "entrypoint"),
    [
        pytest.param(
            "localhost/deployctl/transformers-cpu:latest",
            ["python3", "-m", "transformers.cli.transformers", "serve"],
            id="our locally built images start the python module form",
        ),
        pytest.param(
            "docker.io/vllm/vllm-openai:v0.33.0", ["vllm", "serve"], id="other images start the program"
        ),
    ],
)
def test_entrypoint_rule(image: str, entrypoint: list[str]) -> None:
    got = options(
        image=image,
        program=tuple(entrypoint) if "vllm" in image else ("transformers", "serve"),
        python_module=("transformers.cli.transformers", "serve"),
        args=("/models/m", "--port", "8000"),
    )
    assert got["entrypoint"] == entrypoint
    assert got["command"] == ["/models/m", "--port", "8000"]


@pytest.mark.parametrize(
    ("updates", "expected", "absent"),
    [
        pytest.param({"gpu_count": 0}, {}, ["device_requests"], id="a CPU engine asks for no GPU"),
        pytest.param(
            {"ipc_host": True, "shm_size": "8g"},
            {"ipc_mode": "host"},
            ["shm_size"],
            id="ipc host replaces shm size",
        ),
        pytest.param({"shm_size": "1g"}, {"shm_size": "1g"}, ["ipc_mode"], id="shm size is passed through"),
        pytest.param(
            {"network": "host"}, {"network_mode": "host"}, ["ports"], id="host networking publishes no port"
        ),
        pytest.param(
            {"host": "127.0.0.1", "port": 9001, "container_port": 8000},
            {"ports": {"8000/tcp": ("127.0.0.1", 9001)}},
            [],
            id="the port is published on the recipe's host only",
        ),
    ],
)
def test_container_options(updates: dict, expected: dict, absent: list[str]) -> None:
    got = options(**updates)
    for key, value in expected.items():
        assert got[key] == value
    for key in absent:
        assert key not in got


def test_gpus_are_requested_by_count() -> None:
    [request] = options(gpu_count=2)["device_requests"]
    assert request["Count"] == 2 and request["Capabilities"] == [["gpu"]]


def test_labels_mounts_and_generated_files() -> None:
    spec = fake_spec(
        8000,
        "ok",
        deployment="demo",
        mounts=(Mount(source="/data/ck", target="/models/ck"),),
        files=(GeneratedFile(name="opts.yaml", content="a: 1\n", target="/etc/deployctl/opts.yaml"),),
    )
    got = container_options(
        spec,
        name="deployctl-demo-candidate",
        role="candidate",
        env={},
        files={"/etc/deployctl/opts.yaml": Path("/h/opts.yaml")},
    )
    assert got["labels"][LABEL_MANAGED] == "true"
    assert got["labels"][LABEL_DEPLOYMENT] == "demo"
    assert got["labels"][LABEL_ROLE] == "candidate"
    assert got["labels"][LABEL_ENDPOINT] == "http://127.0.0.1:8000"
    mounts = {(m["Source"], m["Target"], m["ReadOnly"]) for m in got["mounts"]}
    assert mounts == {("/data/ck", "/models/ck", True), ("/h/opts.yaml", "/etc/deployctl/opts.yaml", True)}


def test_an_unreachable_socket_names_docker_host(monkeypatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/podman.sock")
    with pytest.raises(RuntimeUnavailable) as failure:
        DockerRuntime().find()
    assert "unix:///nonexistent/podman.sock" in failure.value.message
    assert "podman system service" in failure.value.hint


def test_a_spec_on_a_service_network_publishes_the_picked_loopback_port_only() -> None:
    spec = fake_spec(0, "ok", deployment="demo", host="127.0.0.1", service_network="llm", container_port=8000)
    got = container_options(spec, name="deployctl-demo", role="active", env={}, files={}, host_port=41234)
    assert got["ports"] == {"8000/tcp": ("127.0.0.1", 41234)}
    assert got["labels"][LABEL_ENDPOINT] == "http://127.0.0.1:41234"
    assert "network" not in got and "network_mode" not in got  # it joins `llm` only once it passed its smoke
