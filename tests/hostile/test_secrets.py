"""Secrets in engine output: the log file is private to its owner, and `deployctl logs` masks token shapes
and announced values whatever the caller's environment holds."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest

from deployctl.runtimes.environment import redact
from deployctl.runtimes.process import ProcessRuntime
from tests.cli_helpers import run_cli
from tests.launch_helpers import fake_spec, free_port
from tests.recipe_samples import HF, SK

PLAIN_KEY = "plainkey0123456789"  # no token shape: only its announcement gives it away


@pytest.mark.parametrize(
    ("line", "hidden"),
    [
        (f"loading with token {HF}", HF),
        (f"OPENAI_API_KEY={SK}", SK),
        (f"argv: vllm serve /m --api-key {PLAIN_KEY} --port 8000", PLAIN_KEY),
        (f"argv: vllm serve /m --api-key={PLAIN_KEY}", PLAIN_KEY),
        (f"GET /v1/models Authorization: Bearer {PLAIN_KEY}", PLAIN_KEY),
        (f'headers {{"authorization": "Bearer {PLAIN_KEY}"}}', PLAIN_KEY),
        (f"HF_TOKEN={PLAIN_KEY} python -m x", PLAIN_KEY),
        (f'{{"api_key": "{PLAIN_KEY}"}}', PLAIN_KEY),
        (f"db password: {PLAIN_KEY}", PLAIN_KEY),
    ],
    ids=[
        "an HF token",
        "an OpenAI key",
        "--api-key X",
        "--api-key=X",
        "Authorization: Bearer X",
        "a JSON authorization header",
        "HF_TOKEN=X",
        "a JSON api_key",
        "password: X",
    ],  # fmt: skip
)
def test_masking_needs_no_environment(line: str, hidden: str) -> None:
    masked = redact(line, [])
    assert hidden not in masked and "***" in masked


@pytest.mark.parametrize(
    "line",
    [
        "INFO: Maximum concurrency for 4096 tokens per request: 12.5x",
        "max_num_tokens=8192 max_model_len=4096",
        "the token is not set",
        "Using tokenizer Qwen/Qwen3-0.6B",
    ],  # fmt: skip
)
def test_ordinary_log_lines_are_left_alone(line: str) -> None:
    assert redact(line, []) == line


def test_engine_log_is_private_and_logs_masks_what_it_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine prints a variable holding an HF token, an --api-key and a bearer header; the caller's
    environment holds none of them, and `deployctl logs` still shows none."""
    leaked = f"{HF} --api-key {PLAIN_KEY} Authorization: Bearer {PLAIN_KEY}"
    monkeypatch.delenv("LEAKY", raising=False)
    spec = fake_spec(free_port(), "print-env:LEAKY", deployment="leak", env={"LEAKY": leaked})
    runtime = ProcessRuntime()
    handle = runtime.launch(spec)
    try:
        log = Path(handle.log_path)
        for _ in range(100):
            if "sha256" in log.read_text():
                break
            time.sleep(0.05)
        assert stat.S_IMODE(log.stat().st_mode) == 0o600, "the engine log is readable by its owner only"
        assert HF in log.read_text(), "the raw log holds the secret (so the masking below is tested)"
        result = run_cli("logs", "leak")
    finally:
        runtime.remove(handle)
    assert result.exit_code == 0, result.output
    assert "fake-engine: secret is" in result.stdout
    assert HF not in result.stdout and PLAIN_KEY not in result.stdout
    assert result.stdout.count("***") >= 3


def test_an_older_world_readable_log_is_made_private_on_restart(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = fake_spec(free_port(), "ok", deployment="oldlog")
    runtime = ProcessRuntime()
    handle = runtime.launch(spec)
    try:
        log = Path(handle.log_path)
        runtime.stop(handle)
        log.chmod(0o644)  # as deployctl before issue 20 created it
        runtime.start(handle)
        assert stat.S_IMODE(log.stat().st_mode) == 0o600
    finally:
        runtime.remove(handle)
