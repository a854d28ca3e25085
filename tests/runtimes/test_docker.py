"""The docker runtime against the real Podman socket and the locally built `transformers serve` image.

Every test uses its own deployment name; afterwards no container labelled with it may exist.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deployctl.errors import DeployctlError, EngineStartFailed, ImageMissing
from deployctl.launch_spec import LABEL_DEPLOYMENT
from deployctl.runtimes.docker import DockerRuntime
from deployctl.serve.health import wait_until_healthy
from deployctl.serve.smoke import run_smoke
from tests.launch_helpers import free_port, transformers_spec, unique_name

pytestmark = [pytest.mark.integration, pytest.mark.container]


@pytest.fixture
def deployment(docker_client) -> Iterator[str]:
    """A fresh deployment name; fails the test if any container labelled with it survives."""
    name = unique_name("dk")
    yield name
    leftovers = docker_client.containers.list(all=True, filters={"label": f"{LABEL_DEPLOYMENT}={name}"})
    for container in leftovers:
        container.remove(force=True)
    assert not leftovers, f"containers left behind: {[c.name for c in leftovers]}"


@pytest.fixture
def spec_for(tiny_model: Path, transformers_image: str, deployment: str, tmp_path: Path):
    def build(**kwargs):
        return transformers_spec(
            "docker",
            tiny_model,
            port=kwargs.pop("port", None) or free_port(),
            deployment=deployment,
            image=transformers_image,
            hf_cache=tmp_path / "hf-hub",  # transformers serve's /v1/models fails without a cache folder
            **kwargs,
        )

    return build


def test_lifecycle_of_a_real_engine_in_a_container(spec_for) -> None:
    runtime = DockerRuntime()
    spec = spec_for()
    handle = runtime.launch(spec)
    try:
        assert runtime.find(spec.deployment) == [handle]
        assert handle.name == f"deployctl-{spec.deployment}"
        wait_until_healthy(runtime, handle, spec, deadline_s=180)
        report = run_smoke(handle.endpoint, model=spec.engine_args.served_name, max_tokens=4, timeout_s=60)
        assert all(1 <= c.completion_tokens <= 4 for c in report.checks[1:])
        assert any("/v1/chat/completions" in line for line in runtime.logs(handle, tail=30))
        assert len(list(runtime.logs(handle, tail=2))) == 2

        runtime.stop(handle, timeout=10)
        assert runtime.state(handle).phase == "exited"
        assert runtime.start(handle) == handle
        wait_until_healthy(runtime, handle, spec, deadline_s=180)
    finally:
        runtime.remove(handle)
    assert runtime.state(handle).phase == "missing"
    assert runtime.find(spec.deployment) == []


def test_a_bad_argument_fails_fast_with_the_engine_log(spec_for) -> None:
    runtime = DockerRuntime()
    spec = spec_for(extra_args=("--no-such-flag",))
    handle = runtime.launch(spec)
    started = time.monotonic()
    try:
        with pytest.raises(EngineStartFailed) as failure:
            wait_until_healthy(runtime, handle, spec, deadline_s=300)
        assert time.monotonic() - started < 90
        assert "exited with code 2" in failure.value.message
        assert "--no-such-flag" in failure.value.log_tail
    finally:
        runtime.remove(handle)


def test_a_server_without_health_ends_at_the_deadline(spec_for) -> None:
    runtime = DockerRuntime()
    # The image's own interpreter serving files: it answers, but /health is a 404.
    spec = spec_for().model_copy(update={"python_module": ("http.server",), "args": ("8000",)})
    handle = runtime.launch(spec)
    try:
        started = time.monotonic()
        with pytest.raises(EngineStartFailed, match="did not answer /health with 200 within 5 s"):
            wait_until_healthy(runtime, handle, spec, deadline_s=5)
        assert time.monotonic() - started < 15
    finally:
        runtime.remove(handle)


def test_a_taken_port_is_refused_and_nothing_is_created(spec_for) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        spec = spec_for(port=port)
        with pytest.raises(EngineStartFailed, match=f"port {port} on 127.0.0.1 is already in use"):
            DockerRuntime().launch(spec)
    assert DockerRuntime().find(spec.deployment) == []


@pytest.mark.parametrize(
    ("image", "fix"),
    [
        pytest.param(
            "localhost/deployctl/no-such-engine:latest",
            "tests/images/build.sh",
            id="a missing local image says how to build it",
        ),
        pytest.param(
            "registry.invalid/engine:1.0",
            "docker pull registry.invalid/engine:1.0",
            id="a missing registry image says how to pull it",
        ),
    ],
)
def test_a_missing_image_says_how_to_get_it(spec_for, image: str, fix: str) -> None:
    spec = spec_for().model_copy(update={"image": image})
    with pytest.raises(ImageMissing) as failure:
        DockerRuntime().launch(spec)
    assert image in failure.value.message
    assert fix in failure.value.hint


def test_a_missing_checkpoint_folder_is_named(spec_for, tmp_path: Path) -> None:
    spec = spec_for()
    gone = tmp_path / "deleted-checkpoint"
    mounts = tuple(
        m.model_copy(update={"source": str(gone)}) if m.purpose == "checkpoint" else m for m in spec.mounts
    )
    with pytest.raises(DeployctlError, match="deleted-checkpoint does not exist"):
        DockerRuntime().launch(spec.model_copy(update={"mounts": mounts}))


def test_a_container_deployctl_did_not_label_is_left_alone(
    spec_for, docker_client, transformers_image
) -> None:
    spec = spec_for()
    stranger = docker_client.containers.create(
        transformers_image, name=f"deployctl-{spec.deployment}", entrypoint=["python3"], command=["-V"]
    )
    try:
        with pytest.raises(DeployctlError, match="created by something other than deployctl"):
            DockerRuntime().launch(spec)
        assert DockerRuntime().find(spec.deployment) == []
        assert docker_client.containers.get(stranger.id).name == f"deployctl-{spec.deployment}"
    finally:
        stranger.remove(force=True)
