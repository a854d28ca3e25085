"""Behind a front, a local engine's spec says `--port 0`: the process runtime picks a free loopback port
at launch, and a restarted instance keeps it (the front routes there)."""

from __future__ import annotations

import sys
import urllib.request
from urllib.parse import urlsplit

import pytest

from deployctl.errors import DeployctlError
from deployctl.runtimes.process import ProcessRuntime, on_port
from tests.launch_helpers import FAKE_ENGINE, fake_spec

# `python -c` sees ["-c", "--port", "<picked>"]: serve fake_engine.py on that port
RUN_FAKE = f"import runpy, sys; sys.argv = ['fake', sys.argv[2], 'ok']; runpy.run_path({str(FAKE_ENGINE)!r}, run_name='__main__')"


def test_on_port_sets_the_zero_port_and_refuses_an_argv_without_one() -> None:
    assert on_port(("vllm", "serve", "m", "--port", "0", "--x"), 4321) == (
        "vllm",
        "serve",
        "m",
        "--port",
        "4321",
        "--x",
    )
    with pytest.raises(DeployctlError):
        on_port(("vllm", "serve", "--port", "8000"), 4321)


def test_a_zero_port_spec_gets_a_port_of_its_own_and_keeps_it_across_a_restart() -> None:
    spec = fake_spec(0, "ok", program=(sys.executable, "-c", RUN_FAKE), args=("--port", "0"))
    runtime = ProcessRuntime()
    handle = runtime.launch(spec, name="picked-port")
    try:
        port = urlsplit(handle.endpoint).port
        assert port and port != 0
        _wait(handle.endpoint)
        runtime.stop(handle, timeout=5)
        again = runtime.start(handle)
        assert again.endpoint == handle.endpoint and again.id != handle.id
        _wait(again.endpoint)
    finally:
        runtime.remove(handle)


def _wait(url: str) -> None:
    import time

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/health", timeout=1).read()
            return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"nothing answers at {url}")
