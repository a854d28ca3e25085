"""The executor's fast ring: every plan operation and every failure-and-restore path, in memory.

A `RecordingRuntime` stands in for docker/process (it implements the Runtime protocols and records
each call that changes something); health and smoke are the executor's own injected seams, here
functions that pass or fail on cue. Each test: seed state and instances → the real `observe` → the
real `make_plan` → `execute` → assert the call sequence, what state names, and what still runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from deployctl.apply import build_spec
from deployctl.apply_result import ApplyResult
from deployctl.checkpoint import Checkpoint
from deployctl.errors import EngineStartFailed, SmokeTestFailed
from deployctl.execute import CandidateCheck, Run, execute
from deployctl.instance import Handle, instance_name
from deployctl.launch_spec import LaunchSpec
from deployctl.observe import observe
from deployctl.plan import Desired, OperationKind, make_plan
from deployctl.recipe.load import parse_recipe_dict
from deployctl.recipe.model import Recipe
from deployctl.runtimes.base import Runtime
from deployctl.smoke_report import SmokeReport
from deployctl.state import DeploymentState, StateStore, recipe_hash
from tests.recording_runtime import RecordingRuntime

NAME = "ring"
NETWORK = "llm"


def recipe(dtype: str = "auto", *, network: bool = False, smoke_prompt: str | None = None) -> Recipe:
    serve: dict[str, object] = {"port": 8000}
    if network:
        serve.update(network=NETWORK, swap="blue-green")
    data: dict[str, object] = {
        "name": NAME, "model": "/models/tiny", "gpu": "cpu", "runtime": "docker", "serve": serve,
        "engine": {"name": "transformers", "dtype": dtype},
    }  # fmt: skip
    if smoke_prompt:
        data["smoke"] = {"prompt": smoke_prompt}
    return parse_recipe_dict(data)


CHECKPOINT = Checkpoint(path=Path("/models/tiny"), key="base-tiny")
OLD, NEW = recipe("auto"), recipe("float32")


@dataclass
class Ring:
    """One deployment's world: the fake runtime, a real state store, and the health/smoke cues."""

    runtime: RecordingRuntime = field(default_factory=RecordingRuntime)
    store: StateStore = field(default_factory=StateStore)
    unhealthy: set[str] = field(default_factory=set)  # never answers its health path
    failing_smoke: set[str] = field(default_factory=set)
    interrupt_at_health: set[str] = field(default_factory=set)  # Ctrl-C while waiting for it
    healthy_now: set[str] | None = None  # what observe's probe sees answering (default: all running)
    reports: list[str] = field(default_factory=list)

    def serve(self, wanted: Recipe, *, attached: bool = True) -> Handle:
        """`wanted` already served and recorded, as a previous apply would have left it."""
        spec = build_spec(wanted, CHECKPOINT)
        handle = self.runtime.launch(spec, name=instance_name(spec))
        if spec.service_network and attached:
            self.runtime.instances[handle.name].networks.add(spec.service_network)
        previous = self.store.load(NAME)
        state = DeploymentState.record(
            previous, recipe=wanted, recipe_path=None, recipe_hash=recipe_hash(wanted),
            checkpoint=CHECKPOINT, spec=spec, handle=handle,
        )  # fmt: skip
        self.store.save(state)
        self.runtime.calls.clear()
        return handle

    def orphan(self, wanted: Recipe, *, on_network: bool = False) -> Handle:
        """An instance labelled for the deployment that state does not name (an interrupted run's)."""
        spec = build_spec(wanted, CHECKPOINT)
        handle = self.runtime.launch(spec, name=f"{instance_name(spec)}-orphan")
        if on_network:
            self.runtime.instances[handle.name].networks.add(NETWORK)
        self.runtime.calls.clear()
        return handle

    def wait_healthy(self, runtime: Runtime, handle: Handle, spec: LaunchSpec, *, deadline_s: float) -> None:
        if not runtime.state(handle).running:
            raise EngineStartFailed(f"{handle.name} exited during startup")
        if handle.name in self.interrupt_at_health:
            raise KeyboardInterrupt
        if handle.name in self.unhealthy:
            raise EngineStartFailed(
                f"{handle.name} did not answer {spec.health_path} within {deadline_s:g} s"
            )

    def smoke(self, wanted: Recipe, endpoint: str, model: str | None) -> SmokeReport:
        if any(self.runtime.instances[n].handle.endpoint == endpoint for n in self.failing_smoke):
            raise SmokeTestFailed("chat: the engine returned no text")
        return SmokeReport(base_url=endpoint, model=model or "", models=(), model_listed=True, checks=())

    def apply(
        self, wanted: Recipe, strategy: str = "replace", check: CandidateCheck | None = None
    ) -> ApplyResult:
        """observe → plan → execute, as `deployctl apply` does once the checkpoint exists."""
        spec = build_spec(wanted, CHECKPOINT)
        healthy: Callable[[Handle, str], bool] = lambda handle, _path: (  # noqa: E731
            self.healthy_now is None or handle.name in self.healthy_now
        )
        world = observe(NAME, self.runtime, self.store, healthy=healthy)
        desired = Desired(
            deployment=NAME, spec_hash=spec.spec_hash(), checkpoint=CHECKPOINT.key, quantized=False,
            recipe_hash=recipe_hash(wanted), strategy=strategy,
            service=f"{NAME}:8000 on {NETWORK}" if spec.service_network else None,
        )  # fmt: skip
        plan = make_plan(desired, world.observed.model_copy(update={"checkpoint_cached": True}))
        result = ApplyResult(deployment=NAME, plan=plan, spec=spec, checkpoint=CHECKPOINT)
        run = Run(
            wanted,
            None,
            world,
            self.store,
            result,
            self.reports.append,
            self.wait_healthy,
            self.smoke,
            check=check,
        )
        execute(run)
        return result

    @property
    def recorded(self) -> str | None:
        state = self.store.load(NAME)
        return state.handle.name if state else None


def name_of(wanted: Recipe) -> str:
    return instance_name(build_spec(wanted, CHECKPOINT))


@pytest.fixture(autouse=True)
def _no_drain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOYCTL_DRAIN_S", "0")


def kinds(result: ApplyResult) -> list[OperationKind]:
    return [op.kind for op in result.plan.operations]


# --- every plan operation ---------------------------------------------------------------------------


def test_create_launches_verifies_and_records() -> None:
    ring = Ring()
    result = ring.apply(NEW)
    assert OperationKind.CREATE in kinds(result)
    assert ring.runtime.calls == [("launch", name_of(NEW))]
    assert ring.recorded == name_of(NEW)
    assert result.endpoint is not None and result.smoke is not None and result.changed


def test_create_on_a_network_joins_it_under_the_deployment_name_before_recording() -> None:
    ring, wanted = Ring(), recipe(network=True)
    ring.apply(wanted, "blue-green")
    assert ring.runtime.calls == [("launch", name_of(wanted)), ("attach", name_of(wanted), NETWORK)]
    assert ring.recorded == name_of(wanted)


def test_keep_touches_nothing_and_writes_no_state() -> None:
    ring = Ring()
    ring.serve(OLD)
    before = ring.store.path(NAME).read_text()
    result = ring.apply(OLD)
    assert OperationKind.KEEP in kinds(result) and not result.changed
    assert ring.runtime.calls == []
    assert ring.store.path(NAME).read_text() == before


def test_record_updates_state_when_only_settings_outside_the_engine_changed() -> None:
    ring = Ring()
    ring.serve(OLD)
    changed = recipe("auto", smoke_prompt="Name a colour.")
    result = ring.apply(changed)
    assert OperationKind.RECORD in kinds(result)
    assert ring.runtime.calls == []
    state = ring.store.load(NAME)
    assert state is not None and state.recipe_hash == recipe_hash(changed)


def test_restart_stops_and_starts_the_recorded_engine_that_does_not_answer() -> None:
    ring = Ring()
    old = ring.serve(OLD)
    ring.healthy_now = set()
    result = ring.apply(OLD)
    assert OperationKind.RESTART in kinds(result)
    assert ring.runtime.calls == [("stop", old.name), ("start", old.name)]
    assert ring.recorded == old.name


def test_attach_puts_the_recorded_engine_back_on_its_network() -> None:
    ring, wanted = Ring(), recipe(network=True)
    old = ring.serve(wanted, attached=False)
    result = ring.apply(wanted, "blue-green")
    assert OperationKind.ATTACH in kinds(result)
    assert ring.runtime.calls == [("attach", old.name, NETWORK)]


def test_orphans_are_removed_before_the_engine_step_and_leave_the_network_first() -> None:
    ring, wanted = Ring(), recipe(network=True)
    ring.serve(wanted)
    orphan = ring.orphan(recipe("float32", network=True), on_network=True)
    result = ring.apply(wanted, "blue-green")
    assert OperationKind.REMOVE_ORPHAN in kinds(result)
    assert ring.runtime.calls == [("detach", orphan.name, NETWORK), ("remove", orphan.name)]
    assert orphan.name not in ring.runtime.instances


def test_replace_stops_the_old_engine_launches_the_new_and_retires_the_old_after_recording() -> None:
    ring = Ring()
    old = ring.serve(OLD)
    result = ring.apply(NEW)
    assert OperationKind.REPLACE in kinds(result)
    assert ring.runtime.calls == [("stop", old.name), ("launch", name_of(NEW)), ("remove", old.name)]
    assert ring.recorded == name_of(NEW)
    assert result.downtime_s is not None


def test_blue_green_moves_the_name_before_the_old_engine_leaves_and_never_stops_it_first() -> None:
    ring, old_recipe, new_recipe = Ring(), recipe(network=True), recipe("float32", network=True)
    old = ring.serve(old_recipe)
    result = ring.apply(new_recipe, "blue-green")
    new = name_of(new_recipe)
    assert OperationKind.BLUE_GREEN in kinds(result)
    assert ring.runtime.calls == [
        ("launch", new), ("attach", new, NETWORK), ("detach", old.name, NETWORK), ("remove", old.name),
    ]  # fmt: skip
    assert ring.recorded == new and result.downtime_s == 0.0


# --- failures and restores --------------------------------------------------------------------------

REPLACE_FAILURES = [
    pytest.param("crash_at_start", EngineStartFailed, id="the new engine crashes at start"),
    pytest.param("unhealthy", EngineStartFailed, id="the new engine never becomes healthy"),
    pytest.param("failing_smoke", SmokeTestFailed, id="the new engine fails its smoke test"),
    pytest.param("interrupt_at_health", KeyboardInterrupt, id="Ctrl-C while the new engine starts"),
]


def _cue(ring: Ring, cue: str, name: str) -> None:
    target = ring.runtime.crash_at_start if cue == "crash_at_start" else getattr(ring, cue)
    target.add(name)


@pytest.mark.parametrize(("cue", "error"), REPLACE_FAILURES)
def test_a_failed_replace_removes_the_new_engine_and_restores_the_old(cue: str, error: type) -> None:
    ring = Ring()
    old = ring.serve(OLD)
    _cue(ring, cue, name_of(NEW))
    with pytest.raises(error) as raised:
        ring.apply(NEW)
    new = name_of(NEW)
    assert ring.runtime.calls == [("stop", old.name), ("launch", new), ("remove", new), ("start", old.name)]
    assert ring.recorded == old.name
    assert ring.runtime.state(old).running and new not in ring.runtime.instances
    if isinstance(raised.value, EngineStartFailed | SmokeTestFailed):
        assert any("was restored and serves again" in line for line in raised.value.details)


def test_a_restore_that_starts_a_new_process_points_state_at_it() -> None:
    ring = Ring(runtime=RecordingRuntime(new_id_on_start=True))
    old = ring.serve(OLD)
    ring.failing_smoke.add(name_of(NEW))
    with pytest.raises(SmokeTestFailed):
        ring.apply(NEW)
    state = ring.store.load(NAME)
    assert state is not None and state.handle.name == old.name and state.handle.id != old.id


def test_a_restore_that_fails_reports_that_failure_and_leaves_state_naming_the_old_engine() -> None:
    ring = Ring()
    old = ring.serve(OLD)
    ring.unhealthy.add(name_of(NEW))
    ring.runtime.fail_start.add(old.name)
    with pytest.raises(EngineStartFailed, match=f"{old.name} did not start again") as raised:
        ring.apply(NEW)
    assert isinstance(raised.value.__context__, EngineStartFailed)  # the new engine's failure, kept
    assert ring.runtime.calls[-1] == ("start", old.name)
    assert ring.recorded == old.name and name_of(NEW) not in ring.runtime.instances


def test_a_failed_create_removes_what_it_started_and_records_nothing() -> None:
    ring = Ring()
    ring.runtime.crash_at_start.add(name_of(NEW))
    with pytest.raises(EngineStartFailed):
        ring.apply(NEW)
    assert ring.runtime.calls == [("launch", name_of(NEW)), ("remove", name_of(NEW))]
    assert ring.recorded is None and ring.runtime.instances == {}


def test_a_failed_restart_keeps_the_recorded_engine_for_the_next_apply() -> None:
    ring = Ring()
    old = ring.serve(OLD)
    ring.healthy_now, ring.unhealthy = set(), {old.name}
    with pytest.raises(EngineStartFailed):
        ring.apply(OLD)
    assert ring.runtime.calls == [("stop", old.name), ("start", old.name)]
    assert old.name in ring.runtime.instances and ring.recorded == old.name


@pytest.mark.parametrize(
    "cue",
    ["failing_smoke", "interrupt_at_health", "crash_at_start"],
    ids=["its smoke test fails", "Ctrl-C while it starts", "it crashes at start"],
)
def test_a_failed_blue_green_leaves_the_old_engine_serving_untouched(cue: str) -> None:
    ring, old_recipe, new_recipe = Ring(), recipe(network=True), recipe("float32", network=True)
    old = ring.serve(old_recipe)
    new = name_of(new_recipe)
    _cue(ring, cue, new)
    with pytest.raises((SmokeTestFailed, KeyboardInterrupt, EngineStartFailed)):
        ring.apply(new_recipe, "blue-green")
    assert ring.runtime.calls == [("launch", new), ("remove", new)]
    assert ring.runtime.attached(old, NETWORK) and ring.recorded == old.name


def test_a_blue_green_whose_cutover_fails_puts_the_old_engine_back_on_the_network() -> None:
    ring, old_recipe, new_recipe = Ring(), recipe(network=True), recipe("float32", network=True)
    old = ring.serve(old_recipe)
    new = name_of(new_recipe)
    ring.runtime.fail_attach.add(new)
    with pytest.raises(Exception, match="cannot attach"):
        ring.apply(new_recipe, "blue-green")
    assert ring.runtime.calls == [
        ("launch", new), ("attach", new, NETWORK), ("remove", new), ("attach", old.name, NETWORK),
    ]  # fmt: skip
    assert ring.runtime.attached(old, NETWORK) and ring.recorded == old.name
