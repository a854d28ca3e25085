"""The committed quickstart compose file runs for real: podman-compose up, healthy, answers, down."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import missing
from tests.launch_helpers import free_port, tiny_model_dir
from tests.render.conftest import COMPOSE_DIR

pytestmark = [pytest.mark.integration, pytest.mark.container]

COMPOSE_FILE = COMPOSE_DIR / "quickstart-cpu.yaml"
HEALTHY_DEADLINE_S = 180


def _podman_compose() -> str:
    beside = Path(sys.executable).parent / "podman-compose"
    found = str(beside) if beside.exists() else shutil.which("podman-compose")
    if not found:
        missing("podman-compose is not installed (pip install podman-compose)")
    return found


def _compose(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    command = [_podman_compose(), "-f", str(COMPOSE_FILE), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


def _wait_healthy(container: str) -> None:
    """Runs the compose file's own healthcheck (Podman without systemd does not schedule it)."""
    deadline = time.monotonic() + HEALTHY_DEADLINE_S
    while time.monotonic() < deadline:
        state = subprocess.run(
            ["podman", "inspect", "--format", "{{.State.Status}}", container], capture_output=True, text=True
        ).stdout.strip()
        if state not in ("created", "running"):
            _fail_with_logs(container, f"is {state or 'gone'} instead of starting")
        check = subprocess.run(["podman", "healthcheck", "run", container], capture_output=True, text=True)
        if check.returncode == 0:
            return
        time.sleep(2)
    _fail_with_logs(container, f"was not healthy within {HEALTHY_DEADLINE_S} s")


def _fail_with_logs(container: str, what: str) -> None:
    logs = subprocess.run(["podman", "logs", "--tail", "30", container], capture_output=True, text=True)
    pytest.fail(f"{container} {what}:\n{logs.stdout}{logs.stderr}", pytrace=False)


@pytest.fixture(scope="module")
def compose_up(transformers_image, tmp_path_factory):
    """The quickstart service up on 127.0.0.1:<free port>, serving the tiny model; always brought down."""
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    svc = document["services"][document["name"]]
    assert svc["image"] == transformers_image
    port = free_port()
    hf_cache = tmp_path_factory.mktemp("compose-hf-cache")
    env = {
        **os.environ,
        "DEPLOYCTL_CHECKPOINT": str(tiny_model_dir(tmp_path_factory.getbasetemp())),
        "DEPLOYCTL_HOST_IP": "127.0.0.1",
        "DEPLOYCTL_PORT": str(port),
        "HF_HUB_CACHE": str(hf_cache),
    }
    try:
        up = _compose(env, "up", "-d")
        assert up.returncode == 0, up.stdout + up.stderr
        _wait_healthy(svc["container_name"])
        yield f"http://127.0.0.1:{port}", svc
    finally:
        down = _compose(env, "down", timeout=120)
        gone = subprocess.run(["podman", "container", "exists", svc["container_name"]])
        assert down.returncode == 0, down.stdout + down.stderr
        assert gone.returncode == 1, f"{svc['container_name']} is still there after down"


def test_the_quickstart_compose_file_serves_openai_requests(compose_up) -> None:
    from openai import OpenAI

    url, svc = compose_up
    model = svc["command"][0]  # transformers serve answers as the folder it was pinned to
    client = OpenAI(base_url=f"{url}/v1", api_key="unused", timeout=60, max_retries=0)
    answer = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Say hello."}], max_tokens=8
    )
    assert answer.usage.completion_tokens > 0
    assert answer.choices[0].message.content


def test_the_port_is_published_on_loopback_only(compose_up) -> None:
    _, svc = compose_up
    ports = subprocess.run(["podman", "port", svc["container_name"]], capture_output=True, text=True).stdout
    assert ports.strip().startswith("8000/tcp -> 127.0.0.1:"), ports
