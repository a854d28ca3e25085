"""A recipe that asks for the front where HAProxy is not installed: refused before any side effect,
with the command that installs it; `auto` then simply runs without a front."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from deployctl.apply import apply_recipe
from deployctl.errors import RuntimeUnavailable
from deployctl.front import haproxy as front_module
from deployctl.front.observe import resolve_front
from deployctl.recipe.load import parse_recipe_dict
from deployctl.recipe.model import RuntimeKind
from deployctl.state import StateStore


def recipe(front: str):
    return parse_recipe_dict(
        {
            "name": "nofront", "model": {"generate": "tiny-qwen3"}, "gpu": "cpu", "engine": "transformers",
            "runtime": {"kind": "process", "python": sys.executable},
            "serve": {"host": "127.0.0.1", "port": 18999, "front": front},
        }
    )  # fmt: skip


@pytest.fixture
def no_haproxy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{tmp_path}:{Path(sys.executable).parent}")
    monkeypatch.setattr(front_module, "SBIN_PATH", str(tmp_path))


def test_front_haproxy_without_haproxy_is_refused_before_anything_starts(no_haproxy, tmp_path) -> None:
    with pytest.raises(RuntimeUnavailable) as raised:
        apply_recipe(recipe("haproxy"))
    assert "apt-get install haproxy" in (raised.value.hint or "") and raised.value.field == "serve.front"
    assert StateStore().list() == []


def test_front_auto_without_haproxy_runs_without_a_front(no_haproxy) -> None:
    assert resolve_front(recipe("auto")).serve.front == "none"


def test_front_auto_uses_an_installed_haproxy_for_local_engines_only(haproxy) -> None:
    local = recipe("auto")
    in_container = local.model_copy(
        update={"runtime": local.runtime.model_copy(update={"kind": RuntimeKind.DOCKER})}
    )
    replaced = local.model_copy(update={"serve": local.serve.model_copy(update={"swap": "replace"})})
    assert resolve_front(local).serve.front == "haproxy"
    assert resolve_front(in_container).serve.front == "none"
    assert resolve_front(replaced).serve.front == "none"
