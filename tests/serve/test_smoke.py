"""run_smoke with the real openai SDK: against real `transformers serve`, and against scripted faults."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from deployctl.errors import SmokeTestFailed
from deployctl.runtimes.process import ProcessRuntime
from deployctl.serve.health import wait_until_healthy
from deployctl.serve.smoke import run_smoke
from tests.launch_helpers import fake_spec, free_port, hf_cache_env, transformers_spec

pytestmark = pytest.mark.integration


def serve_fake(runtime: ProcessRuntime, mode: str, **updates: object) -> str:
    spec = fake_spec(free_port(), mode, **updates)
    handle = runtime.launch(spec)
    wait_until_healthy(runtime, handle, spec, deadline_s=20)
    return handle.endpoint


def test_real_transformers_serve_passes_every_check(
    runtime: ProcessRuntime, tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in hf_cache_env(tmp_path).items():
        monkeypatch.setenv(name, value)
    spec = transformers_spec("process", tiny_model, port=free_port(), python=sys.executable)
    engine = ProcessRuntime(python=sys.executable)  # the dev venv has transformers[serving]
    handle = engine.launch(spec)
    wait_until_healthy(engine, handle, spec, deadline_s=120)

    for max_tokens in (1, 6):
        report = run_smoke(
            handle.endpoint + "/v1", model=spec.engine_args.served_name, max_tokens=max_tokens, timeout_s=60
        )
        assert [check.name for check in report.checks] == ["models", "chat", "completion", "stream"]
        for check in report.checks[1:]:
            assert check.finish_reason in ("stop", "length")
            assert 1 <= check.completion_tokens <= max_tokens
            assert check.prompt_tokens >= 1
            assert check.latency_ms > 0
        assert report.checks[3].time_to_first_token_ms is not None
        assert report.base_url == handle.endpoint
        # transformers serve lists its Hugging Face cache, not the model it was started with
        assert report.model_listed is False


@pytest.mark.parametrize(
    ("mode", "failing_check", "says"),
    [
        pytest.param("ok", None, None, id="a well-behaved server passes"),
        pytest.param(
            "no-usage", "chat", "no usage counts", id="a response without usage fails the chat check"
        ),
        pytest.param("empty-text", "chat", "no text", id="an empty answer fails the chat check"),
        pytest.param(
            "bad-finish", "chat", "finish reason 'tool_calls'", id="an unexpected finish reason fails"
        ),
        pytest.param("too-many-tokens", "chat", "expected 1..4", id="more tokens than max_tokens fails"),
        pytest.param(
            "stream-no-usage",
            "stream",
            "may have been cut off",
            id="a stream ending early without usage fails",
        ),
    ],
)
def test_each_fault_names_its_check(
    runtime: ProcessRuntime, mode: str, failing_check: str | None, says: str | None
) -> None:
    endpoint = serve_fake(runtime, mode)
    if failing_check is None:
        report = run_smoke(endpoint, max_tokens=4, timeout_s=10)
        assert report.model == "fake-model" and report.model_listed
        assert [c.completion_tokens for c in report.checks[1:]] == [3, 3, 3]
        return
    with pytest.raises(SmokeTestFailed) as failure:
        run_smoke(endpoint, max_tokens=4, timeout_s=10)
    assert failure.value.message.startswith(f"smoke test failed at {failing_check}: ")
    assert says in failure.value.message


def test_api_key_is_sent_and_a_wrong_one_is_named(
    runtime: ProcessRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_ENGINE_KEY", "k-123456")  # health sends it too: /v1/models needs it
    endpoint = serve_fake(runtime, "needs-key:k-123456", api_key_env="FAKE_ENGINE_KEY")
    assert run_smoke(endpoint, api_key="k-123456", max_tokens=4, timeout_s=10).model == "fake-model"
    with pytest.raises(SmokeTestFailed) as failure:
        run_smoke(endpoint, api_key="wrong", max_tokens=4, timeout_s=10)
    assert "refused the API key" in failure.value.message
    assert "api_key_env" in failure.value.hint


def test_nothing_listening_fails_the_models_check() -> None:
    port = free_port()
    with pytest.raises(SmokeTestFailed) as failure:
        run_smoke(f"http://127.0.0.1:{port}", timeout_s=5)
    assert failure.value.message.startswith("smoke test failed at models: no answer from http://127.0.0.1:")
    assert "deployctl status" in failure.value.hint
