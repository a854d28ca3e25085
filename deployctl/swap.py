"""Executing a plan's engine step: create, restart, attach, replace or blue-green, and undoing a failure.

Every path ends the same way: the instance that passed health and smoke is recorded in state, and
only after that is the instance it replaced removed. So at every instant the state document names an
engine that passed its smoke test, and anything else labelled for the deployment is an orphan that
the next plan removes (see plan.py).

- replace: the old engine is stopped but kept; the new one starts, is waited for and smoked; any
  failure (Ctrl-C included) removes the new one and starts the old one again.
- blue-green: the old engine keeps serving while the new one starts on its own loopback port and is
  smoked there; then the new one joins `serve.network` under the deployment's name *before* the old
  one leaves it (the name resolves to both for that moment, never to none), state is recorded, and
  the old engine is drained and removed. A failure before the move removes the new engine and
  leaves the old one exactly as it was: it never stopped.

Test hook: with DEPLOYCTL_TEST_PAUSE_AT=<step> the executor prints "paused at <step>" on stderr and
sleeps there (steps: `PAUSE_STEPS`), so a test can SIGKILL deployctl at a known point of a swap.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from deployctl.checkpoint import Checkpoint
from deployctl.errors import DeployctlError
from deployctl.launch_spec import LaunchSpec
from deployctl.plan import Observed, OperationKind, Plan
from deployctl.recipe.model import Recipe, RuntimeKind

Reporter = Callable[[str], None]
PAUSE_ENV = "DEPLOYCTL_TEST_PAUSE_AT"
PAUSE_STEPS = ("locked", "checkpoint", "stopped", "launched", "smoked", "attached", "recorded")
STOP_TIMEOUT_S = 10.0  # graceful stop; uvicorn waits this long for idle keep-alive clients
# After the name moved: clients that resolved it just before still reach the old engine this long.
DRAIN_S = float(os.environ.get("DEPLOYCTL_DRAIN_S", "2"))


@dataclass
class ApplyResult:
    """What happened, with the time each step took (seconds)."""

    deployment: str
    plan: Plan
    endpoint: str | None = None
    spec: LaunchSpec | None = None
    checkpoint: Checkpoint | None = None
    smoke: object | None = None
    timings: dict[str, float] = field(default_factory=dict)
    downtime_s: float | None = None  # replace: old engine stopped → new engine healthy; blue-green: 0
    warnings: list[str] = field(default_factory=list)
    changed: bool = True


@dataclass
class World:
    """What observe found: the runtime, the state document and the labelled instances by name."""

    runtime: object
    previous: object  # DeploymentState | None
    handles: dict
    observed: Observed


class CandidateCheck(Protocol):
    """A check of the new engine between its smoke test and the cutover (quality.gate.SwapGate).

    `prepare` runs first, while the old engine still serves (its endpoint, or None when it does not
    run); `verify` raises a DeployctlError to refuse the new engine, which is then discarded and the
    old one kept (blue-green) or restored (replace), exactly as after a failed smoke test.
    """

    def prepare(self, serving_endpoint: str | None) -> None: ...

    def verify(self, candidate_endpoint: str) -> None: ...


@dataclass
class Run:
    """One execution of a plan: inputs and the result being filled in."""

    recipe: Recipe
    recipe_path: Path | None
    world: World
    store: object
    result: ApplyResult
    report: Reporter
    check: CandidateCheck | None = None

    @property
    def spec(self) -> LaunchSpec:
        assert self.result.spec is not None
        return self.result.spec


def execute(run: Run) -> None:
    """Take the plan's steps in order: orphans, then the one engine operation (attach before orphans)."""
    plan, runtime, handles = run.result.plan, run.world.runtime, run.world.handles
    run.result.changed = plan.has_changes
    op = plan.engine_operation
    recorded = handles.get(run.world.observed.recorded_instance or "")
    if op.kind is OperationKind.ATTACH:
        _attach(run, recorded)
    _remove_orphans(run, [handles[name] for name in plan.orphans])
    if op.kind in (OperationKind.KEEP, OperationKind.ATTACH):
        run.result.endpoint = recorded.endpoint
        if any(o.kind is OperationKind.RECORD for o in plan.operations):
            record(run, recorded)
        return
    if run.check is not None:
        _prepare_check(run, recorded)
    if op.kind is OperationKind.RESTART:
        runtime.stop(recorded, timeout=STOP_TIMEOUT_S)  # a no-op when it is stopped already
        _serve_verified(run, lambda: runtime.start(recorded), discard_on_failure=False)
    elif op.kind is OperationKind.CREATE:
        _serve_verified(run, lambda: _launch(run), discard_on_failure=True)
    elif op.kind is OperationKind.BLUE_GREEN:
        _blue_green(run, recorded)
    else:
        _replace(run, recorded)


def _prepare_check(run: Run, recorded) -> None:
    """The candidate check's first half, while the recorded engine still serves (if it runs at all)."""
    running = {i.name for i in run.world.observed.instances if i.phase == "running"}
    serving = recorded.endpoint if recorded is not None and recorded.name in running else None
    tick = time.perf_counter()
    run.check.prepare(serving)
    run.result.timings["verify_baseline"] = time.perf_counter() - tick


def _remove_orphans(run: Run, orphans: list) -> None:
    """An orphan may still answer under the deployment's name (a swap killed mid-cutover): take it off
    the network and let clients that just resolved it finish before it stops."""
    runtime = run.world.runtime
    network = run.result.spec.service_network if run.result.spec else None
    on_network = [o for o in orphans if network and runtime.attached(o, network)]
    for orphan in on_network:
        runtime.detach(orphan, network)
    if on_network:
        time.sleep(DRAIN_S)
    for orphan in orphans:
        run.report(f"removing {orphan.name} (left by an interrupted run; not in state)")
        runtime.remove(orphan)


def _replace(run: Run, old) -> None:
    """Stop the old engine (kept), start the new one; restore the old on any failure."""
    runtime = run.world.runtime
    run.report(f"stopping {old.name} (kept until the new engine passes its smoke test)")
    stopped_at = time.perf_counter()
    runtime.stop(old, timeout=STOP_TIMEOUT_S)
    pause("stopped")
    try:
        _serve_verified(run, lambda: _launch(run), discard_on_failure=True, stopped_at=stopped_at)
    except BaseException as failure:
        _restore(run, old, stopped_at, failure)
        raise
    run.report(f"retiring {old.name}")
    runtime.remove(old)


def _blue_green(run: Run, old) -> None:
    """New engine beside the old one; the network name moves only once the new one passed its smoke."""
    runtime, network = run.world.runtime, run.spec.service_network
    run.report(
        f"starting the new engine beside {old.name}, which keeps serving {run.spec.deployment} on {network}"
    )
    new = _verified(run, lambda: _launch(run), discard_on_failure=True)
    tick = time.perf_counter()
    try:
        runtime.attach(new, network, run.spec.deployment)
        pause("attached")
        runtime.detach(old, network)
        record(run, new)
    except BaseException:
        _discard(runtime, new, run.report)  # the old engine never left the network before detach
        runtime.attach(old, network, run.spec.deployment)
        raise
    run.result.timings["cutover"] = time.perf_counter() - tick
    run.result.downtime_s = 0.0
    pause("recorded")
    run.report(
        f"{run.spec.deployment} on {network} now answers from {new.name}; draining {old.name} {DRAIN_S:g} s"
    )
    time.sleep(DRAIN_S)
    run.report(f"retiring {old.name}")
    runtime.remove(old)


def _serve_verified(
    run: Run, start: Callable, *, discard_on_failure: bool, stopped_at: float | None = None
) -> object:
    """Start, verify, put on the network (if any) and record; a failure discards what was started."""
    handle = _verified(run, start, discard_on_failure=discard_on_failure, stopped_at=stopped_at)
    try:
        _attach(run, handle)
        record(run, handle)
        pause("recorded")
    except BaseException:
        if discard_on_failure:
            _discard(run.world.runtime, handle, run.report)
        raise
    return handle


def _verified(
    run: Run, start: Callable, *, discard_on_failure: bool, stopped_at: float | None = None
) -> object:
    """Start, wait healthy, smoke; on failure remove what was started (when it is new)."""
    from deployctl.serve.health import wait_until_healthy

    runtime, spec, result = run.world.runtime, run.spec, run.result
    handle = None
    try:
        tick = time.perf_counter()
        handle = start()
        pause("launched")
        run.report(f"started {handle.name}; waiting for {spec.health_path}")
        wait_until_healthy(runtime, handle, spec, deadline_s=spec.startup_budget_s)
        result.timings["engine_start"] = time.perf_counter() - tick
        if stopped_at is not None:
            result.downtime_s = time.perf_counter() - stopped_at
        result.endpoint = handle.endpoint
        if run.recipe.smoke.enabled:
            tick = time.perf_counter()
            result.smoke = smoke_test(run.recipe, handle.endpoint, model=spec.engine_args.served_name)
            result.timings["smoke"] = time.perf_counter() - tick
        pause("smoked")
        if run.check is not None:
            tick = time.perf_counter()
            run.check.verify(handle.endpoint)
            result.timings["verify_candidate"] = time.perf_counter() - tick
    except BaseException:
        if handle is not None and discard_on_failure:
            _discard(runtime, handle, run.report)
        raise
    return handle


def _attach(run: Run, handle) -> None:
    """On `serve.network`, answer there under the deployment's name (a no-op when it does already)."""
    if run.spec.service_network:
        run.world.runtime.attach(handle, run.spec.service_network, run.spec.deployment)


def _launch(run: Run):
    _create_writable_mounts(run.recipe, run.spec)
    return run.world.runtime.launch(run.spec, role="active", name=instance_name(run.spec))


def record(run: Run, handle) -> None:
    from deployctl.state import DeploymentState, recipe_hash

    checkpoint = run.result.checkpoint
    assert checkpoint is not None
    state = DeploymentState.record(
        run.world.previous,
        smoke=run.result.smoke,
        recipe=run.recipe,
        recipe_path=str(run.recipe_path) if run.recipe_path else None,
        recipe_hash=recipe_hash(run.recipe),
        checkpoint=checkpoint,
        spec=run.spec,
        handle=handle,
        timings=run.result.timings,
    )
    run.store.save(state)


def _discard(runtime, handle, report: Reporter) -> None:
    try:
        runtime.remove(handle)
    except DeployctlError as exc:  # keep the original failure as the one reported
        report(f"could not remove the failed engine {handle.name}: {exc}")


def _restore(run: Run, old, stopped_at: float, failure: BaseException) -> None:
    """Start the old engine again and wait until it answers; note how long the endpoint was down."""
    from deployctl.serve.health import wait_until_healthy

    runtime, previous = run.world.runtime, run.world.previous
    what = type(failure).__name__ if not isinstance(failure, DeployctlError) else failure.message
    run.report(f"the new engine failed ({what}); restarting {old.name}")
    restored = runtime.start(old)
    wait_until_healthy(runtime, restored, previous.spec, deadline_s=previous.spec.startup_budget_s)
    if previous.spec.service_network:
        runtime.attach(restored, previous.spec.service_network, previous.spec.deployment)
    down = time.perf_counter() - stopped_at
    run.report(f"{old.name} is serving again at {restored.endpoint} (endpoint down {down:.1f} s)")
    if restored.id != old.id:  # the process runtime starts a new pid: keep state pointing at it
        run.store.save(previous.model_copy(update={"handle": restored, "endpoint": restored.endpoint}))
    if isinstance(failure, DeployctlError):
        failure.details.append(f"{old.name} was restored and serves again (endpoint down {down:.1f} s)")


def smoke_test(recipe: Recipe, endpoint: str, model: str | None = None):
    from deployctl.serve.smoke import run_smoke

    api_key = os.environ.get(recipe.serve.api_key_env) if recipe.serve.api_key_env else None
    return run_smoke(
        endpoint,
        api_key=api_key,
        model=model,
        prompt=recipe.smoke.prompt,
        max_tokens=recipe.smoke.max_tokens,
        timeout_s=recipe.smoke.timeout_s,
    )


def instance_name(spec: LaunchSpec) -> str:
    """A name per spec: the old instance keeps its name (and stays restorable) while the new one starts."""
    return f"deployctl-{spec.deployment}-{spec.spec_hash()[:8]}"


def _create_writable_mounts(recipe: Recipe, spec: LaunchSpec) -> None:
    """Caches the engine writes to must exist before it starts (bind-mount sources, cache variables)."""
    folders = [m.source for m in spec.mounts if not m.read_only and m.purpose in ("hf-cache", "engine-cache")]
    if recipe.runtime.kind is RuntimeKind.PROCESS:  # the engine's variables then name host folders
        folders += [spec.env[name] for name in ("HF_HUB_CACHE", "VLLM_CACHE_ROOT") if name in spec.env]
    for folder in folders:
        Path(folder).mkdir(parents=True, exist_ok=True)


def pause(step: str) -> None:
    """Test hook (see the module docstring): hold still at `step` so a test can kill this process."""
    if os.environ.get(PAUSE_ENV) == step:
        print(f"deployctl: paused at {step} ({PAUSE_ENV})", file=sys.stderr, flush=True)
        time.sleep(3600)


__all__ = [
    "ApplyResult",
    "CandidateCheck",
    "PAUSE_STEPS",
    "Run",
    "World",
    "execute",
    "instance_name",
    "record",
    "smoke_test",
]
