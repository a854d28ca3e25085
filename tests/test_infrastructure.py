"""The integration environment that tests/run.sh provides is really there and works."""

from __future__ import annotations

import os
import subprocess

import pytest

pytestmark = pytest.mark.integration


def test_isolated_home_and_offline_hub(tmp_path_factory):
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    home = os.environ["DEPLOYCTL_HOME"]
    assert home.startswith(str(tmp_path_factory.getbasetemp()))


@pytest.mark.container
def test_podman_socket_answers(docker_client):
    version = docker_client.version()
    assert any(c["Name"] == "Podman Engine" for c in version.get("Components", [])), version


@pytest.mark.container
def test_transformers_image_runs_transformers_serve(docker_client, transformers_image):
    output = docker_client.containers.run(
        transformers_image,
        ["python3", "-m", "transformers.cli.transformers", "serve", "--help"],
        remove=True,
        stdout=True,
        stderr=True,
        labels={"deployctl.test": "infrastructure"},
    ).decode()
    assert "--port" in output and "--host" in output, output


@pytest.mark.vllm
def test_vllm_python_imports_vllm_on_its_cpu_platform(vllm_python):
    # The `vllm` metadata alias must carry "+cpu", or vLLM picks no CPU platform and loads
    # AVX-512 kernels (SIGILL on AVX2 machines).
    code = (
        "import importlib.metadata as m, torch, vllm\n"
        "from vllm.platforms import current_platform\n"
        "print(m.version('vllm'), torch.__version__, current_platform.device_type)"
    )
    result = subprocess.run([str(vllm_python), "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    vllm_version, torch_version, device_type = result.stdout.split()[-3:]
    assert vllm_version == "0.32.0+cpu"
    assert torch_version.endswith("+cpu")
    assert device_type == "cpu"


@pytest.mark.container
@pytest.mark.vllm
def test_vllm_image_imports_vllm_on_its_cpu_platform(docker_client, vllm_image):
    code = (
        "import importlib.metadata as m, vllm\n"
        "from vllm.platforms import current_platform\n"
        "print(m.version('vllm'), current_platform.device_type)"
    )
    output = docker_client.containers.run(
        vllm_image, ["python3", "-c", code], remove=True, labels={"deployctl.test": "infrastructure"}
    ).decode()
    assert output.split()[-2:] == ["0.32.0+cpu", "cpu"], output
