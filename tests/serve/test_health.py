"""wait_until_healthy: fast on success, fast on an engine that dies, bounded on one that never answers."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest

from deployctl.errors import EngineStartFailed
from deployctl.instance import Handle
from deployctl.runtimes.process import ProcessRuntime
from deployctl.serve.health import wait_until_healthy
from tests.launch_helpers import fake_spec, free_port

pytestmark = pytest.mark.integration


def launch(runtime: ProcessRuntime, mode: str, **updates) -> tuple[Handle, object]:
    spec = fake_spec(free_port(), mode, **updates)
    return runtime.launch(spec), spec


def test_waits_for_health_then_models(runtime: ProcessRuntime) -> None:
    handle, spec = launch(runtime, "models-late:1.5")
    progress: list[str] = []
    healthy = wait_until_healthy(
        runtime, handle, spec, deadline_s=20, on_progress=lambda what, _: progress.append(what)
    )
    assert 1.5 <= healthy.elapsed_s < 10
    assert "waiting for /v1/models" in progress
    assert healthy.endpoint == f"http://127.0.0.1:{spec.port}"


def test_an_engine_that_exits_at_start_fails_fast_with_its_log(runtime: ProcessRuntime) -> None:
    handle, spec = launch(runtime, "exit:3")
    started = time.monotonic()
    with pytest.raises(EngineStartFailed) as failure:
        wait_until_healthy(runtime, handle, spec, deadline_s=120)
    assert time.monotonic() - started < 5
    assert "exited with code 3" in failure.value.message
    assert "unrecognized arguments: --no-such-flag" in failure.value.log_tail


@pytest.mark.parametrize(
    ("mode", "updates"),
    [
        pytest.param(
            "ok",
            {"health_path": "/no-such-path"},
            id="a server whose health path answers 404 ends at the deadline",
        ),
        pytest.param(
            "hang", {}, id="a server that accepts connections but never answers ends at the deadline too"
        ),
    ],
)
def test_never_healthy_ends_at_the_deadline(runtime: ProcessRuntime, mode: str, updates: dict) -> None:
    handle, spec = launch(runtime, mode, **updates)
    started = time.monotonic()
    with pytest.raises(EngineStartFailed) as failure:
        wait_until_healthy(runtime, handle, spec, deadline_s=3, poll_interval_s=0.2)
    took = time.monotonic() - started
    assert 3 <= took < 6
    assert "within 3 s" in failure.value.message
    assert "health_timeout_s" in (failure.value.hint or "")
    assert "listening on 127.0.0.1" in failure.value.log_tail


def test_log_tail_masks_the_secret_the_engine_printed(runtime: ProcessRuntime, monkeypatch) -> None:
    monkeypatch.setenv("DEPLOYCTL_TEST_SECRET", "s3cret-value-123")
    handle, spec = launch(runtime, "print-env:ENGINE_KEY", secret_env={"ENGINE_KEY": "DEPLOYCTL_TEST_SECRET"})
    with pytest.raises(EngineStartFailed) as failure:
        wait_until_healthy(runtime, handle, spec, deadline_s=30)
    assert "secret is ***" in failure.value.log_tail
    assert "s3cret-value-123" not in failure.value.log_tail


def test_a_failed_start_shows_the_root_cause_and_keeps_the_whole_log(runtime: ProcessRuntime) -> None:
    handle, spec = launch(runtime, "root-cause")
    with pytest.raises(EngineStartFailed) as failure:
        wait_until_healthy(runtime, handle, spec, deadline_s=30)
    runtime.remove(handle)  # what apply does with a failed instance: the runtime's own log goes with it
    error = failure.value
    shown = "\n".join(error.details)
    assert "TypeError: KVCacheScaleParameter.weight_loader() takes 2 positional arguments" in shown
    assert "See root cause above" not in shown
    assert "kv_cache_scales: fixed" in (error.hint or "")
    kept = Path(error.log_path or "")
    assert str(kept) in shown
    assert kept.is_file() and stat.S_IMODE(kept.stat().st_mode) == 0o600
    text = kept.read_text()
    assert "RuntimeError: Engine core initialization failed" in text
    assert len(text.splitlines()) >= 65
