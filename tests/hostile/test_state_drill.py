"""Fault drill for state and locks: a damaged state file breaks nothing but itself, says what is wrong
and how out, and `destroy --force` / `doctor` are the way out; locks leave no files and name who holds them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from deployctl.checkpoint import Checkpoint
from deployctl.recipe.load import parse_recipe_dict
from deployctl.recipe.model import RuntimeKind
from deployctl.runtimes.base import Handle
from deployctl.state import DeploymentState, StateStore, recipe_hash
from tests.cli_helpers import run_cli
from tests.launch_helpers import fake_spec, free_port

DAMAGE = {
    "non-UTF-8 bytes": b'{"version": 1, "name": "caf\xe9"}',
    "binary garbage": bytes(range(256)),
    "truncated JSON": b'{"version": 1, "name": "broken", "recipe_hash": "ab',
    "an empty file": b"",
    "a list at the top": b"[1, 2, 3]",
    "null at the top": b"null",
    "a number at the top": b"42",
    "a string at the top": b'"demo"',
    "a version that is text": b'{"version": "one"}',
    "a version of zero": b'{"version": 0}',
    "a boolean version": b'{"version": true}',
    "fields of the wrong type": b'{"version": 1, "name": 5, "recipe": [], "spec": "x"}',
    "JSON nested 100000 deep": b"[" * 100_000 + b"]" * 100_000,
}


def healthy_state(name: str = "good") -> DeploymentState:
    recipe = parse_recipe_dict({"name": name, "model": "Qwen/Qwen3-0.6B", "engine": "vllm"})
    spec = fake_spec(8000, "ok", deployment=name)
    handle = Handle(
        runtime=RuntimeKind.PROCESS, id="999999999", name=f"deployctl-{name}", deployment=name,
        spec_hash=spec.spec_hash(), endpoint="http://127.0.0.1:8000",
    )  # fmt: skip
    return DeploymentState.record(
        None, recipe=recipe, recipe_path=None, recipe_hash=recipe_hash(recipe),
        checkpoint=Checkpoint(path=Path("/cache/ck"), key="ck"), spec=spec, handle=handle,
    )  # fmt: skip


@pytest.fixture
def damaged(request: pytest.FixtureRequest) -> Path:
    """A healthy deployment `good` beside a damaged document `broken`."""
    store = StateStore()
    store.save(healthy_state())
    path = store.path("broken")
    path.write_bytes(DAMAGE[request.param])
    return path


def assert_clean_failure(result, path: Path) -> None:
    assert "Traceback" not in result.output
    assert result.exit_code in (1, 2), result.output
    assert str(path) in result.stderr, result.stderr
    assert "destroy broken --force" in result.stderr


@pytest.mark.parametrize("damaged", list(DAMAGE), indirect=True)
def test_a_damaged_state_file_breaks_only_itself(damaged: Path) -> None:
    listed = run_cli("--json", "list")
    assert listed.exit_code == 0, listed.output
    assert '"name": "good"' in listed.stdout, "the healthy deployment is still listed"
    assert '"broken":' in listed.stdout and str(damaged) in listed.stdout

    status = run_cli("status")
    assert status.exit_code == 0, status.output
    assert "good" in status.stdout and "broken state" in status.stdout
    assert str(damaged) in status.stderr, "status says which file and why"

    one = run_cli("status", "broken")
    assert one.exit_code == 0 and "broken state" in one.stdout and str(damaged) in one.stderr
    for command in (["logs", "broken"], ["rollback", "broken", "--list"], ["smoke", "broken"]):
        assert_clean_failure(run_cli(*command), damaged)

    doctor = run_cli("doctor")
    assert doctor.exit_code == 1
    assert "broken-state" in doctor.stdout and "destroy broken" in doctor.stdout.replace("\n", " ")


@pytest.mark.parametrize("damaged", ["non-UTF-8 bytes", "a list at the top", "truncated JSON"], indirect=True)
def test_destroy_force_is_the_way_out(damaged: Path) -> None:
    result = run_cli("destroy", "broken", "--force")
    assert result.exit_code == 0, result.output
    assert "forgot deployment broken" in result.stderr
    assert not damaged.exists()
    assert run_cli("doctor").exit_code == 0, "nothing left to report"
    assert StateStore().load("good") is not None, "the other deployment is untouched"


def test_a_newer_document_asks_for_a_newer_deployctl_not_a_repair() -> None:
    store = StateStore()
    store.path("future").parent.mkdir(parents=True, exist_ok=True)
    store.path("future").write_text('{"version": 99}')
    result = run_cli("logs", "future")
    assert result.exit_code == 1 and "upgrade deployctl" in result.stderr


def test_a_directory_where_a_document_belongs_is_reported() -> None:
    store = StateStore()
    store.path("broken").mkdir(parents=True)
    result = run_cli("logs", "broken")
    assert_clean_failure(result, store.path("broken"))


def test_locks_leave_no_files_and_stale_ones_are_listed_and_removed() -> None:
    store = StateStore()
    with store.lock("demo"):
        assert store.lock_holder("demo") == os.getpid()
    assert store.lock_holder("demo") is None
    assert not list((store.root / ".locks").iterdir()), "a released lock leaves no file"

    holder = subprocess.Popen(
        [sys.executable, "-c", "import time; from deployctl.state import StateStore\n"
         "with StateStore().lock('demo'):\n    print('held', flush=True); time.sleep(600)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        doctor = run_cli("--json", "doctor")
        assert doctor.exit_code == 0, "a lock held now is an apply in flight, not a problem"
        assert f"held by pid {holder.pid}" in doctor.stdout
    finally:
        holder.kill()  # killed outright: its lock file stays behind
        holder.wait()
    assert store.lock_holder("demo") is None, "the OS released the dead holder's lock"
    doctor = run_cli("doctor")
    assert doctor.exit_code == 1 and "stale-lock" in doctor.stdout
    fixed = run_cli("doctor", "--fix")
    assert fixed.exit_code == 0 and "removed" in fixed.stderr
    assert not list((store.root / ".locks").iterdir())
    with store.lock("demo"):
        pass  # and the lock works as before


def test_plan_during_an_apply_does_not_call_its_engine_an_orphan(tmp_path: Path) -> None:
    """An apply holds the lock and has started its new engine, not yet recorded: plan must say so."""
    from deployctl.runtimes.process import ProcessRuntime

    runtime = ProcessRuntime()
    handle = runtime.launch(fake_spec(free_port(), "ok", deployment="demo"))
    recipe = tmp_path / "demo.yaml"
    recipe.write_text(
        "name: demo\nmodel: tiny-qwen3\ngpu: cpu\nengine: transformers\n"
        "runtime: process\nserve:\n  host: 127.0.0.1\n"
    )
    try:
        with StateStore().lock("demo"):
            during = run_cli("plan", str(recipe))
        after = run_cli("plan", str(recipe))
    finally:
        runtime.remove(handle)
    assert "Traceback" not in during.output + after.output
    assert f"apply in flight by pid {os.getpid()}" in during.stdout, during.output
    assert "remove-orphan" not in during.stdout
    assert "remove-orphan" in after.stdout, "with no apply running, it is an orphan again"


def test_rollback_to_a_revision_this_deployctl_no_longer_accepts_says_so() -> None:
    """A revision recorded before the recipe checks grew stricter (a host with a space) is refused with
    the reason, not with a traceback."""
    import json

    store = StateStore()
    store.save(healthy_state())
    document = json.loads(store.path("good").read_text())
    old = json.loads(json.dumps(document["revisions"][0]))
    old["recipe"]["serve"]["host"] = "my host"
    old["checkpoint_key"] = "older"
    document["revisions"] = [old, *document["revisions"]]
    store.path("good").write_text(json.dumps(document))
    result = run_cli("rollback", "good")
    assert "Traceback" not in result.output
    assert result.exit_code == 1, result.output
    assert "no longer valid" in result.stderr and "serve.host" in result.stderr
