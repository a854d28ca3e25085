"""Executing a plan's engine step: create, restart, attach, keep, record, replace or blue-green, and
undoing a failure. The executor makes no decisions: `plan.make_plan` did.

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

Seams: the runtime (`World.runtime`, the `Runtime` protocol), the health wait (`Run.wait_healthy`)
and the smoke test (`Run.smoke`) are injected; the defaults are the real ones. tests/test_execute.py
drives every path with a recording in-memory runtime. Pause points for kill tests: `deployctl.pause`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from deployctl import settings
from deployctl.errors import DeployctlError
from deployctl.front.cutover import serve_from
from deployctl.front_steps import blue_green_through_front, front_steps, hold_front, serve_through_front
from deployctl.instance import Handle, instance_name
from deployctl.launch_spec import LaunchSpec
from deployctl.pause import pause
from deployctl.plan import OperationKind
from deployctl.recipe.model import Recipe, RuntimeKind
from deployctl.run_context import CandidateCheck, Reporter, Run, SmokeTest, WaitHealthy
from deployctl.runtimes.base import DEFAULT_STOP_TIMEOUT_S, Runtime
from deployctl.state import DeploymentState, recipe_hash


def execute(run: Run) -> None:
    """Take the plan's steps in order: orphans, then the one engine operation (attach before orphans)."""
    plan, runtime, handles = run.result.plan, run.runtime, run.world.handles
    run.result.changed = plan.has_changes
    op = plan.engine_operation
    recorded = handles.get(run.world.observed.recorded_instance or "")
    front_steps(run, plan, recorded)
    if run.check is not None and op.kind not in (OperationKind.KEEP, OperationKind.ATTACH):
        _prepare_check(run, recorded)
    if op.kind is OperationKind.CREATE:
        _remove_orphans(run, [handles[name] for name in plan.orphans])
        _serve_verified(run, lambda: _launch(run), discard_on_failure=True)
        return
    assert recorded is not None, f"the plan says {op.kind.value} but observe found no recorded instance"
    if op.kind is OperationKind.ATTACH:
        _attach(run, recorded)
    _remove_orphans(run, [handles[name] for name in plan.orphans])
    if op.kind in (OperationKind.KEEP, OperationKind.ATTACH):
        run.result.endpoint = run.front.spec.public_url if run.front else recorded.endpoint
        if any(o.kind is OperationKind.RECORD for o in plan.operations):
            record(run, recorded)
        return
    if op.kind is OperationKind.RESTART:
        runtime.stop(recorded, timeout=DEFAULT_STOP_TIMEOUT_S)  # a no-op when it is stopped already
        _serve_verified(run, lambda: runtime.start(recorded), discard_on_failure=False)
    elif op.kind is OperationKind.BLUE_GREEN and run.front:
        blue_green_through_front(
            run,
            recorded,
            start_new=lambda: _verified(run, lambda: _launch(run), discard_on_failure=True),
            record_new=lambda new: record(run, new),
            discard=lambda new: _discard(runtime, new, run.report),
        )
    elif op.kind is OperationKind.BLUE_GREEN:
        _blue_green(run, recorded)
    else:
        _replace(run, recorded)


def _prepare_check(run: Run, recorded: Handle | None) -> None:
    """The candidate check's first half, before anything stops: the recorded engine's endpoint when it
    answered observe's health probe, else None."""
    assert run.check is not None
    running = {i.name for i in run.world.observed.instances if i.phase == "running"}
    serving = recorded.endpoint if recorded is not None and recorded.name in running else None
    tick = time.perf_counter()
    run.check.prepare(serving)
    run.result.timings["verify_baseline"] = time.perf_counter() - tick


def _remove_orphans(run: Run, orphans: list[Handle]) -> None:
    """An orphan may still answer under the deployment's name (a swap killed mid-cutover): take it off
    the network and let clients that just resolved it finish before it stops."""
    network = run.result.spec.service_network if run.result.spec else None
    on_network: list[Handle] = []
    if network:
        runtime = run.network_runtime()
        on_network = [o for o in orphans if runtime.attached(o, network)]
        for orphan in on_network:
            runtime.detach(orphan, network)
    if on_network:
        time.sleep(settings.drain_s())
    for orphan in orphans:
        run.report(f"removing {orphan.name} (left by an interrupted run; not in state)")
        run.runtime.remove(orphan)


def _replace(run: Run, old: Handle) -> None:
    """Stop the old engine (kept), start the new one; restore the old on any failure."""
    runtime = run.runtime
    stopped_at = hold_front(run) if run.front else time.perf_counter()
    run.report(f"stopping {old.name} (kept until the new engine passes its smoke test)")
    runtime.stop(old, timeout=DEFAULT_STOP_TIMEOUT_S)
    pause("stopped")
    try:
        _serve_verified(run, lambda: _launch(run), discard_on_failure=True, stopped_at=stopped_at)
    except BaseException as failure:
        _restore(run, old, stopped_at, failure)
        raise
    if run.front:  # until the front routes to the new engine (after its smoke test)
        run.result.downtime_s = time.perf_counter() - stopped_at
    run.report(f"retiring {old.name}")
    runtime.remove(old)


def _blue_green(run: Run, old: Handle) -> None:
    """New engine beside the old one; the network name moves only once the new one passed its smoke."""
    runtime, network, name = run.network_runtime(), run.spec.service_network, run.spec.deployment
    assert network is not None
    run.report(f"starting the new engine beside {old.name}, which keeps serving {name} on {network}")
    new = _verified(run, lambda: _launch(run), discard_on_failure=True)
    tick = time.perf_counter()
    try:
        runtime.attach(new, network, name)
        pause("attached")
        runtime.detach(old, network)
        record(run, new)
    except BaseException:
        _discard(runtime, new, run.report)  # the old engine never left the network before detach
        runtime.attach(old, network, name)
        raise
    run.result.timings["cutover"] = time.perf_counter() - tick
    run.result.downtime_s = 0.0
    pause("recorded")
    drain = settings.drain_s()
    run.report(f"{name} on {network} now answers from {new.name}; draining {old.name} {drain:g} s")
    time.sleep(drain)
    run.report(f"retiring {old.name}")
    runtime.remove(old)


def _serve_verified(
    run: Run, start: Callable[[], Handle], *, discard_on_failure: bool, stopped_at: float | None = None
) -> Handle:
    """Start, verify, put on the network (if any) and record; a failure discards what was started."""
    handle = _verified(run, start, discard_on_failure=discard_on_failure, stopped_at=stopped_at)
    try:
        _attach(run, handle)
        record(run, handle)
        pause("recorded")
    except BaseException:
        if discard_on_failure:
            _discard(run.runtime, handle, run.report)
        raise
    return handle


def _verified(
    run: Run, start: Callable[[], Handle], *, discard_on_failure: bool, stopped_at: float | None = None
) -> Handle:
    """Start, wait healthy, smoke; on failure remove what was started (when it is new)."""
    runtime, spec, result = run.runtime, run.spec, run.result
    handle = None
    try:
        tick = time.perf_counter()
        handle = start()
        pause("launched")
        run.report(f"started {handle.name}; waiting for {spec.health_path}")
        run.wait_healthy(runtime, handle, spec, deadline_s=spec.startup_budget_s)
        result.timings["engine_start"] = time.perf_counter() - tick
        if stopped_at is not None:
            result.downtime_s = time.perf_counter() - stopped_at
        result.endpoint = handle.endpoint
        if run.recipe.smoke.enabled:
            tick = time.perf_counter()
            result.smoke = run.smoke(run.recipe, handle.endpoint, spec.engine_args.served_name)
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


def _attach(run: Run, handle: Handle) -> None:
    """On `serve.network`, answer there under the deployment's name (a no-op when it does already);
    behind a front, the front sends every request to `handle`."""
    if run.front:
        serve_through_front(run, handle)
    if run.spec.service_network:
        run.network_runtime().attach(handle, run.spec.service_network, run.spec.deployment)


def _launch(run: Run) -> Handle:
    _create_writable_mounts(run.recipe, run.spec)
    return run.runtime.launch(run.spec, role="active", name=instance_name(run.spec))


def record(run: Run, handle: Handle) -> None:
    """Write the state document naming `handle` as the engine that serves (it passed health and smoke)."""
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
        endpoint=run.front.spec.public_url if run.front else None,
    )
    run.store.save(state)


def _discard(runtime: Runtime, handle: Handle, report: Reporter) -> None:
    try:
        runtime.remove(handle)
    except DeployctlError as exc:  # keep the original failure as the one reported
        report(f"could not remove the failed engine {handle.name}: {exc}")


def _restore(run: Run, old: Handle, stopped_at: float, failure: BaseException) -> None:
    """Start the old engine again and wait until it answers; note how long the endpoint was down."""
    runtime, previous = run.runtime, run.world.previous
    assert previous is not None  # replace runs only with a recorded engine
    what = type(failure).__name__ if not isinstance(failure, DeployctlError) else failure.message
    run.report(f"the new engine failed ({what}); restarting {old.name}")
    restored = runtime.start(old)
    run.wait_healthy(runtime, restored, previous.spec, deadline_s=previous.spec.startup_budget_s)
    if previous.spec.service_network:
        run.network_runtime().attach(restored, previous.spec.service_network, previous.spec.deployment)
    if run.front:
        serve_from(run.front, restored)
    down = time.perf_counter() - stopped_at
    run.report(f"{old.name} is serving again at {restored.endpoint} (endpoint down {down:.1f} s)")
    if restored.id != old.id:  # the process runtime starts a new pid: keep state pointing at it
        run.store.save(previous.model_copy(update={"handle": restored, "endpoint": restored.endpoint}))
    if isinstance(failure, DeployctlError):
        failure.details.append(f"{old.name} was restored and serves again (endpoint down {down:.1f} s)")


def _create_writable_mounts(recipe: Recipe, spec: LaunchSpec) -> None:
    """Caches the engine writes to must exist before it starts (bind-mount sources, cache variables)."""
    folders = [m.source for m in spec.mounts if not m.read_only and m.purpose in ("hf-cache", "engine-cache")]
    if recipe.runtime.kind is RuntimeKind.PROCESS:  # the engine's variables then name host folders
        folders += [spec.env[name] for name in ("HF_HUB_CACHE", "VLLM_CACHE_ROOT") if name in spec.env]
    for folder in folders:
        Path(folder).mkdir(parents=True, exist_ok=True)


__all__ = ["CandidateCheck", "Run", "SmokeTest", "WaitHealthy", "execute", "record"]
