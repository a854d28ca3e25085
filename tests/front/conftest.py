"""Real HAProxy in front of stdlib fake engines (tests/serve/fake_engine.py), which start in ~50 ms."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator

import pytest

from tests.conftest import missing
from tests.launch_helpers import FAKE_ENGINE, free_port


@pytest.fixture(scope="session")
def haproxy() -> str:
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")
    if found is None:
        missing("the haproxy binary (apt-get install haproxy)")
    return found


@pytest.fixture
def fake_engine() -> Iterator[Callable[..., int]]:
    """Start a fake engine in `mode` on a free loopback port once it answers; returns the port."""
    started: list[subprocess.Popen[bytes]] = []

    def start(mode: str = "ok") -> int:
        port = free_port()
        child = subprocess.Popen(
            [sys.executable, str(FAKE_ENGINE), str(port), mode],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        started.append(child)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).read()
                return port
            except OSError:
                time.sleep(0.05)
        pytest.fail(f"fake engine on {port} did not answer")

    yield start
    for child in started:
        child.kill()
        child.wait()
