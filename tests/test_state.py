"""StateStore: documents survive a round trip, never hold secrets, keep a bounded history, lock per deployment."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deployctl import settings
from deployctl.checkpoint import Checkpoint
from deployctl.errors import LockHeld, StateError, UsageError
from deployctl.instance import Handle
from deployctl.recipe.load import parse_recipe_dict
from deployctl.recipe.model import RuntimeKind
from deployctl.state import MAX_REVISIONS, STATE_VERSION, DeploymentState, StateStore, recipe_hash
from tests.launch_helpers import fake_spec


def applied(
    previous: DeploymentState | None = None, *, port: int = 8000, key: str = "ck-1"
) -> DeploymentState:
    """The state `apply` records for a recipe served on `port` from checkpoint `key`."""
    recipe = parse_recipe_dict(
        {
            "name": "demo",
            "model": "Qwen/Qwen3-0.6B",
            "engine": "vllm",
            "serve": {"port": port, "api_key_env": "DEMO_API_KEY"},
        }
    )
    spec = fake_spec(port, "ok", deployment="demo", api_key_env="DEMO_API_KEY")
    handle = Handle(
        runtime=RuntimeKind.DOCKER,
        id=f"c{port}",
        name="deployctl-demo",
        deployment="demo",
        spec_hash=spec.spec_hash(),
        endpoint=f"http://127.0.0.1:{port}",
    )
    return DeploymentState.record(
        previous,
        recipe=recipe,
        recipe_path="recipes/demo.yaml",
        recipe_hash=recipe_hash(recipe),
        checkpoint=Checkpoint(path=Path(f"/cache/{key}"), key=key),
        spec=spec,
        handle=handle,
        timings={"launch": 1.5},
    )


def test_a_saved_state_loads_back_equal_and_leaves_no_temp_files() -> None:
    store = StateStore()
    saved = store.save(applied())
    assert store.load("demo") == saved
    assert [p.name for p in store.root.iterdir() if not p.name.startswith(".locks")] == ["demo.json"]
    assert store.list() == [saved]
    assert store.root == settings.state_dir()


def test_the_document_names_the_key_variable_but_never_holds_its_value(monkeypatch) -> None:
    monkeypatch.setenv("DEMO_API_KEY", "sk-live-" + "y" * 30)
    store = StateStore()
    store.save(applied())
    text = store.path("demo").read_text()
    assert "DEMO_API_KEY" in text
    assert "sk-live-" not in text


@pytest.mark.parametrize(
    ("applies", "expected_ports"),
    [
        pytest.param([8000], [8000], id="the first apply records one revision"),
        pytest.param([8000, 8001], [8000, 8001], id="a changed spec appends a revision, current last"),
        pytest.param([8000, 8000], [8000], id="re-applying the same spec does not duplicate the revision"),
        pytest.param(
            list(range(8000, 8000 + MAX_REVISIONS + 3)),
            list(range(8003, 8000 + MAX_REVISIONS + 3)),
            id="history keeps only the last MAX_REVISIONS",
        ),
    ],
)
def test_revision_history(applies: list[int], expected_ports: list[int]) -> None:
    state = None
    for port in applies:
        state = applied(state, port=port)
    assert [int(r.handle.endpoint.rsplit(":", 1)[1]) for r in state.revisions] == expected_ports
    assert state.revisions[-1].spec_hash == state.spec_hash
    expected_previous = expected_ports[-2] if len(expected_ports) > 1 else None
    previous = state.previous_revision
    assert (int(previous.handle.endpoint.rsplit(":", 1)[1]) if previous else None) == expected_previous


def test_created_at_is_kept_across_applies() -> None:
    first = applied()
    time.sleep(0.01)
    second = applied(first, port=8001)
    assert second.created_at == first.created_at < second.updated_at


def test_delete_forgets_and_is_idempotent() -> None:
    store = StateStore()
    store.save(applied())
    assert store.delete("demo") is True
    assert store.load("demo") is None
    assert store.delete("demo") is False


@pytest.mark.parametrize(
    ("content", "says"),
    [
        pytest.param("{not json", "not valid JSON", id="a truncated document is reported with its file"),
        pytest.param('{"version": 99}', "version 99", id="a document from a newer deployctl is refused"),
        pytest.param(
            '{"version": 1, "name": "demo"}', "malformed", id="a document missing fields is reported"
        ),
    ],
)
def test_unreadable_documents_raise_state_errors(content: str, says: str) -> None:
    store = StateStore()
    store.root.mkdir(parents=True)
    store.path("demo").write_text(content)
    with pytest.raises(StateError) as failure:
        store.load("demo")
    assert says in failure.value.message
    assert failure.value.file == store.path("demo")


@pytest.mark.parametrize("name", ["../etc/passwd", "Demo", "", "a/b"], ids=lambda n: f"name {n!r} is refused")
def test_names_that_are_not_deployment_names_are_refused(name: str) -> None:
    with pytest.raises(UsageError):
        StateStore().load(name)


def test_the_current_version_loads_without_migration() -> None:
    store = StateStore()
    store.save(applied())
    assert json.loads(store.path("demo").read_text())["version"] == STATE_VERSION


def test_a_held_lock_names_its_holder_and_frees_when_the_holder_dies() -> None:
    store = StateStore()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from deployctl.state import StateStore\n"
            "with StateStore().lock('demo'):\n    print('held', flush=True); time.sleep(600)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LockHeld) as failure, store.lock("demo"):
            pass
        assert f"pid {holder.pid}" in failure.value.message
    finally:
        holder.kill()
        holder.wait()
    # the OS released the dead holder's lock; a second taker in this process is refused
    with store.lock("demo"), pytest.raises(LockHeld), store.lock("demo"):
        pass
    with store.lock("other"), store.lock("demo"):
        pass  # locks are per deployment
