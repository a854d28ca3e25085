"""The process runtime, for real: transformers serve on a tiny model, and fake_engine.py for the faults.

After every test no process of any launched group may be alive, and `find()` sees nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deployctl import settings
from deployctl.errors import DeployctlError, EngineStartFailed, RuntimeUnavailable
from deployctl.instance import Handle
from deployctl.runtimes.base import instance_dir
from deployctl.runtimes.process import RECORD_FILE, ProcessRuntime
from deployctl.serve.health import wait_until_healthy
from deployctl.serve.smoke import run_smoke
from tests.launch_helpers import fake_spec, free_port, group_alive, hf_cache_env, transformers_spec

pytestmark = pytest.mark.integration


@pytest.fixture
def launched() -> Iterator[list[int]]:
    """Tests append the pid of every group they start; all must be gone, and find() empty, at the end."""
    groups: list[int] = []
    yield groups
    runtime = ProcessRuntime()
    for handle in runtime.find():
        runtime.remove(handle)
    leftovers = [pgid for pgid in groups if group_alive(pgid)]
    for pgid in leftovers:
        os.killpg(pgid, signal.SIGKILL)
    assert not leftovers, f"process groups left running: {leftovers}"
    assert runtime.find() == []


def test_lifecycle_of_a_real_engine(
    launched: list[int], tiny_model: Path, tmp_path: Path, monkeypatch
) -> None:
    for name, value in hf_cache_env(tmp_path).items():
        monkeypatch.setenv(name, value)
    runtime = ProcessRuntime(python=sys.executable)
    spec = transformers_spec("process", tiny_model, port=free_port(), python=sys.executable)
    handle = runtime.launch(spec)
    launched.append(int(handle.id))
    assert os.getsid(int(handle.id)) == int(handle.id), "the engine leads its own session"
    assert handle.endpoint == f"http://127.0.0.1:{spec.port}" and handle.spec_hash == spec.spec_hash()

    assert wait_until_healthy(runtime, handle, spec, deadline_s=120).elapsed_s < 120
    report = run_smoke(handle.endpoint, model=spec.engine_args.served_name, max_tokens=4, timeout_s=60)
    assert report.checks[1].completion_tokens >= 1
    assert any("POST /v1/chat/completions" in line for line in runtime.logs(handle, tail=20))
    assert len(list(runtime.logs(handle, tail=3))) == 3
    assert runtime.find(spec.deployment) == [handle]

    runtime.stop(handle, timeout=10)
    assert runtime.state(handle).phase == "exited"
    assert not group_alive(int(handle.id))

    restarted = runtime.start(handle)
    launched.append(int(restarted.id))
    assert restarted.id != handle.id and restarted.name == handle.name
    wait_until_healthy(runtime, restarted, spec, deadline_s=120)
    assert runtime.state(restarted).running

    runtime.remove(restarted)
    assert runtime.state(restarted).phase == "missing"
    assert not Path(restarted.log_path).exists() and not instance_dir(restarted.name).exists()


def test_a_bad_argument_fails_fast_with_the_engine_log(launched: list[int], tiny_model: Path) -> None:
    runtime = ProcessRuntime(python=sys.executable)
    spec = transformers_spec(
        "process", tiny_model, port=free_port(), python=sys.executable, extra_args=("--no-such-flag",)
    )
    handle = runtime.launch(spec)
    launched.append(int(handle.id))
    started = time.monotonic()
    with pytest.raises(EngineStartFailed) as failure:
        wait_until_healthy(runtime, handle, spec, deadline_s=300)
    assert time.monotonic() - started < 60
    assert "exited with code 2" in failure.value.message
    assert "--no-such-flag" in failure.value.log_tail
    runtime.remove(handle)


def test_a_taken_port_is_refused_before_anything_starts(launched: list[int]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(EngineStartFailed) as failure:
            ProcessRuntime().launch(fake_spec(port, "ok"))
    assert f"port {port} on 127.0.0.1 is already in use" in failure.value.message
    assert "serve.port" in failure.value.hint
    assert ProcessRuntime().find() == []


@pytest.mark.parametrize(
    ("python", "program", "says"),
    [
        pytest.param(
            None,
            ("no-such-engine-binary", "serve"),
            "not on PATH",
            id="a program missing from PATH names runtime.python as the fix",
        ),
        pytest.param(
            "/nonexistent/bin/python",
            None,
            "not an executable interpreter",
            id="a runtime.python that does not exist is named",
        ),
    ],
)
def test_an_engine_that_cannot_be_found_is_explained(python, program, says, launched: list[int]) -> None:
    spec = fake_spec(free_port(), "ok", **({"program": program} if program else {}))
    with pytest.raises(RuntimeUnavailable) as failure:
        ProcessRuntime(python=python).launch(spec)
    assert says in failure.value.message
    assert failure.value.field == "runtime.python"


def test_stop_ends_the_whole_group_even_when_the_engine_ignores_sigterm(
    launched: list[int], tmp_path: Path
) -> None:
    script = tmp_path / "stubborn.py"
    script.write_text(
        textwrap.dedent(
            """
            import signal, subprocess, sys, time
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
            print("worker started", flush=True)
            time.sleep(600)
            """
        )
    )
    spec = fake_spec(free_port(), "unused", program=(sys.executable, str(script)), args=())
    runtime = ProcessRuntime()
    handle = runtime.launch(spec)
    launched.append(int(handle.id))
    deadline = time.monotonic() + 10
    while "worker started" not in "".join(runtime.logs(handle)) and time.monotonic() < deadline:
        time.sleep(0.1)
    started = time.monotonic()
    runtime.stop(handle, timeout=1)
    assert 1 <= time.monotonic() - started < 5
    assert not group_alive(int(handle.id)), "the worker child must die with the engine"


def test_the_engine_outlives_the_deployctl_that_started_it(launched: list[int]) -> None:
    spec = fake_spec(free_port(), "ok")
    code = f"""
from deployctl.launch_spec import LaunchSpec
from deployctl.runtimes.process import ProcessRuntime
spec = LaunchSpec.model_validate_json({spec.model_dump_json()!r})
print(ProcessRuntime().launch(spec).id)
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    pid = int(done.stdout.strip())
    launched.append(pid)
    runtime = ProcessRuntime()
    [handle] = runtime.find(spec.deployment)
    assert handle.id == str(pid)
    assert wait_until_healthy(runtime, handle, spec, deadline_s=20)
    runtime.remove(handle)
    assert not group_alive(pid)


def test_a_stop_from_another_deployctl_does_not_wait_on_the_zombie_it_leaves(launched: list[int]) -> None:
    """The engine's parent (this test process) lives on and has not reaped it: once the engine exited it
    is a zombie, which counts as stopped instead of holding the other run for its whole timeout."""
    spec = fake_spec(free_port(), "ok")
    runtime = ProcessRuntime()
    handle = runtime.launch(spec)
    launched.append(int(handle.id))
    assert wait_until_healthy(runtime, handle, spec, deadline_s=20)
    code = f"""
import time
from deployctl.instance import Handle
from deployctl.runtimes.process import ProcessRuntime
handle = Handle.model_validate_json({handle.model_dump_json()!r})
started = time.monotonic()
ProcessRuntime().stop(handle)
print(time.monotonic() - started)
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert float(done.stdout) < 5, "the stop waited out its 10 s timeout for a zombie"
    assert not group_alive(int(handle.id))


def test_a_recycled_pid_is_never_signalled(launched: list[int]) -> None:
    """A record whose pid now belongs to another process (different start time) must not touch it."""
    spec = fake_spec(free_port(), "ok")
    runtime = ProcessRuntime()
    handle = runtime.launch(spec)
    launched.append(int(handle.id))
    bystander = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True
    )
    try:
        runtime.stop(handle)
        record_path = instance_dir(handle.name) / RECORD_FILE
        record = json.loads(record_path.read_text())
        record.update(pid=bystander.pid, pgid=bystander.pid)  # start_ticks stays the old engine's
        record_path.write_text(json.dumps(record))
        fake = Handle.model_validate({**handle.model_dump(), "id": str(bystander.pid)})
        assert runtime.state(fake).phase == "exited"
        runtime.remove(fake)
        assert bystander.poll() is None, "deployctl signalled a process it did not start"
    finally:
        bystander.kill()
        bystander.wait()


def test_secrets_reach_the_engine_but_no_file(launched: list[int], monkeypatch) -> None:
    secret = "sk-test-" + "x" * 24
    monkeypatch.setenv("DEPLOYCTL_TEST_API_KEY", secret)
    spec = fake_spec(free_port(), "print-env:ENGINE_KEY", secret_env={"ENGINE_KEY": "DEPLOYCTL_TEST_API_KEY"})
    runtime = ProcessRuntime()
    handle = runtime.launch(spec)
    launched.append(int(handle.id))
    followed: list[str] = []  # follow=True streams until the engine exits (here: by itself)
    reader = threading.Thread(target=lambda: followed.extend(runtime.logs(handle, follow=True)), daemon=True)
    reader.start()
    reader.join(timeout=20)
    assert not reader.is_alive(), "logs(follow=True) did not end when the engine exited"
    log = "\n".join(followed)
    assert hashlib.sha256(secret.encode()).hexdigest() in log, "the engine did not get the secret"
    for path in settings.home().rglob("*"):
        if path.is_file() and path != Path(handle.log_path):
            assert secret not in path.read_text(errors="replace"), f"secret written to {path}"
    runtime.remove(handle)


def test_a_missing_secret_variable_is_named_without_starting(launched: list[int], monkeypatch) -> None:
    monkeypatch.delenv("DEPLOYCTL_TEST_UNSET_KEY", raising=False)
    spec = fake_spec(free_port(), "ok", secret_env={"VLLM_API_KEY": "DEPLOYCTL_TEST_UNSET_KEY"})
    with pytest.raises(DeployctlError, match="DEPLOYCTL_TEST_UNSET_KEY is not set"):
        ProcessRuntime().launch(spec)
    assert ProcessRuntime().find() == []
