"""`deployctl status | list | logs | smoke | destroy` as a user runs them, on a real local engine process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from deployctl.checkpoint import Checkpoint
from deployctl.instance import Handle
from deployctl.recipe.load import parse_recipe_dict
from deployctl.runtimes.process import ProcessRuntime
from deployctl.serve.health import wait_until_healthy
from deployctl.state import DeploymentState, StateStore, recipe_hash
from tests.cli_helpers import run_cli
from tests.launch_helpers import fake_spec, free_port, group_alive

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[Handle]:
    """A healthy fake engine recorded as deployment `demo`, its key in DEMO_KEY; removed afterwards."""
    monkeypatch.setenv("DEMO_KEY", "demo-secret-987654")
    spec = fake_spec(free_port(), "needs-key:demo-secret-987654", deployment="demo", api_key_env="DEMO_KEY")
    runtime = ProcessRuntime()
    handle = runtime.launch(spec)
    try:
        wait_until_healthy(runtime, handle, spec, deadline_s=20)
        recipe = parse_recipe_dict(
            {"name": "demo", "model": "Qwen/Qwen3-0.6B", "engine": "vllm", "smoke": {"max_tokens": 4}}
        )
        StateStore().save(
            DeploymentState.record(
                None,
                recipe=recipe,
                recipe_path=None,
                recipe_hash=recipe_hash(recipe),
                checkpoint=Checkpoint(path=Path("/cache/demo"), key="ck"),
                spec=spec,
                handle=handle,
            )
        )
        yield handle
    finally:
        for leftover in runtime.find():
            runtime.remove(leftover)
        assert not group_alive(int(handle.id))


def test_status_list_logs_and_smoke_of_a_running_deployment(engine: Handle) -> None:
    status = run_cli("--json", "status")
    assert status.exit_code == 0, status.output
    [row] = json.loads(status.stdout)
    assert (row["deployment"], row["phase"], row["healthy"], row["in_state"]) == (
        "demo",
        "running",
        True,
        True,
    )

    listed = run_cli("--json", "list")
    assert [d["name"] for d in json.loads(listed.stdout)] == ["demo"]

    logs = run_cli("logs", "demo", "--tail", "2")
    assert logs.exit_code == 0 and len(logs.stdout.splitlines()) == 2

    smoke = run_cli("smoke", "demo")
    assert smoke.exit_code == 0, smoke.output
    assert "smoke test passed" in smoke.stderr and "stream" in smoke.stdout


def test_destroy_removes_everything_and_is_idempotent(engine: Handle) -> None:
    stray = ProcessRuntime().launch(fake_spec(free_port(), "ok", deployment="demo"), role="candidate")
    status = run_cli("status", "demo")
    assert "deployctl-demo-candidate" in status.stdout and "(no state)" in status.stdout

    first = run_cli("destroy", "demo")
    assert first.exit_code == 0, first.output
    assert "removed deployctl-demo" in first.stderr and "removed deployctl-demo-candidate" in first.stderr
    assert not group_alive(int(engine.id)) and not group_alive(int(stray.id))
    assert StateStore().load("demo") is None

    again = run_cli("destroy", "demo")
    assert again.exit_code == 0 and "Nothing to destroy" in again.stderr
    gone = run_cli("status", "demo")
    assert gone.exit_code == 1 and "no deployment named demo" in gone.stderr


def test_smoke_of_a_url_and_of_an_unknown_name() -> None:
    unknown = run_cli("smoke", "nope")
    assert unknown.exit_code == 1 and "no deployment named nope" in unknown.stderr
    nothing = run_cli("smoke", f"http://127.0.0.1:{free_port()}")
    assert nothing.exit_code == 1 and "models: no answer" in nothing.stderr
