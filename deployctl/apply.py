"""`deployctl apply`/`plan`/`rollback`: judge → lock → observe → plan → checkpoint → swap → state.

This module sequences the stages and owns no decisions beyond executing the plan: the verdict comes
from `capability`, the plan from `plan.make_plan`, the command line from the engine adapter, side
effects from the runtime and quantize adapters.

The swap (strategy `replace`, the only one implemented): the checkpoint is made while the old engine
still serves; then the old engine is stopped but kept, the new one started, waited for and
smoke-tested, the state document rewritten to name it, and only then the old one removed. Any
failure (including Ctrl-C) removes the new engine and starts the old one again; a deployctl killed
outright leaves state naming the old engine, and the next plan sees the difference (see plan.py).

Test hook: with DEPLOYCTL_TEST_PAUSE_AT=<step> apply prints "paused at <step>" on stderr and sleeps
at that step (steps: `PAUSE_STEPS`), so a test can SIGKILL it at a known point of the swap.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from deployctl import settings
from deployctl.checkpoint import Checkpoint
from deployctl.errors import DeployctlError, StateError
from deployctl.launch_spec import LaunchSpec
from deployctl.plan import Desired, Instance, Observed, OperationKind, Plan, make_plan
from deployctl.recipe.model import Recipe, RuntimeKind
from deployctl.state import recipe_hash

Reporter = Callable[[str], None]
PAUSE_ENV = "DEPLOYCTL_TEST_PAUSE_AT"
PAUSE_STEPS = ("locked", "checkpoint", "stopped", "launched", "smoked", "recorded")
HEALTH_PROBE_TIMEOUT_S = 1.0
STOP_TIMEOUT_S = 10.0  # graceful stop; uvicorn waits this long for idle keep-alive clients

__all__ = ["ApplyResult", "apply_recipe", "rollback", "recipe_hash", "judge", "build_spec", "smoke_test"]


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
    downtime_s: float | None = None  # old engine stopped → new engine healthy (replace only)
    warnings: list[str] = field(default_factory=list)
    changed: bool = True


@dataclass
class _World:
    """What observe found: the runtime, the state document and the labelled instances by name."""

    runtime: object
    previous: object  # DeploymentState | None
    handles: dict
    observed: Observed


def judge(recipe: Recipe, *, recipe_path: Path | None = None) -> list[str]:
    """Refuse impossible recipes before any side effect; return the warnings of fallback verdicts."""
    from deployctl.capability import judge_recipe, raise_if_rejected, resolve_gpu
    from deployctl.errors import CapabilityRejected

    if recipe.gpu.nodes > 1:
        raise CapabilityRejected(
            f"gpu.nodes: {recipe.gpu.nodes} needs a cluster; deployctl apply starts engines on this machine",
            file=recipe_path,
            field="gpu.nodes",
            hint="render it for Kubernetes: deployctl render --target lws (vLLM) or --target dynamo RECIPE",
        )
    gpu = resolve_gpu(recipe, file=recipe_path)
    verdict = judge_recipe(recipe, gpu=gpu)
    raise_if_rejected(verdict, recipe, file=recipe_path)
    warnings = list(verdict.warnings)
    if recipe.serve.host not in ("127.0.0.1", "localhost", "::1") and not recipe.serve.api_key_env:
        warnings.append(
            f"the engine listens on {recipe.serve.host}:{recipe.serve.port} without an API key: anyone who can "
            "reach this machine can use it; set serve.api_key_env or serve.host: 127.0.0.1"
        )
    return warnings


def build_spec(recipe: Recipe, checkpoint: Checkpoint) -> LaunchSpec:
    from deployctl.engines.base import Placement
    from deployctl.engines.registry import build_launch_spec

    run_dir = settings.home() / "run" / recipe.name
    engine_cache = settings.home() / "engine-cache" / recipe.engine.name.value
    placement = Placement.for_runtime(
        recipe.runtime.kind,
        checkpoint,
        config_dir=str(run_dir),
        hf_cache=str(settings.hf_cache_dir()),
        engine_cache=str(engine_cache),
    )
    return build_launch_spec(recipe, checkpoint, placement)


def observe(name: str, runtime, store) -> _World:
    """State plus reality: every instance labelled for `name`, the recorded one probed for health."""
    from deployctl.serve.health import probe

    previous = store.load(name)
    recorded = previous.handle.name if previous else None
    handles = {h.name: h for h in runtime.find(name)}
    instances = []
    for handle in handles.values():
        phase = runtime.state(handle).phase
        if phase == "running" and handle.name == recorded:
            url = handle.endpoint + previous.spec.health_path
            phase = "running" if probe(url, timeout_s=HEALTH_PROBE_TIMEOUT_S) == 200 else "unhealthy"
        instances.append(Instance(name=handle.name, spec_hash=handle.spec_hash, phase=phase))
    observed = Observed(
        recorded_instance=recorded,
        recorded_recipe_hash=previous.recipe_hash if previous else None,
        instances=tuple(instances),
    )
    return _World(runtime=runtime, previous=previous, handles=handles, observed=observed)


def plan_recipe(recipe: Recipe, world: _World) -> ApplyResult:
    """The plan from what exists on disk now: never quantizes, downloads or generates."""
    from deployctl.quantize.lookup import find_checkpoint, missing_reason, quantize_cost

    checkpoint = find_checkpoint(recipe)
    spec = build_spec(recipe, checkpoint) if checkpoint else None
    desired = Desired(
        deployment=recipe.name,
        spec_hash=spec.spec_hash() if spec else None,
        checkpoint=checkpoint.key if checkpoint else recipe.model.display,
        quantized=recipe.quantization.format.value != "none" or recipe.quantization.kv_cache.value != "none",
        quantize_cost="" if checkpoint else quantize_cost(recipe),
        missing_reason="" if checkpoint else missing_reason(recipe),
        recipe_hash=recipe_hash(recipe),
    )
    plan = make_plan(desired, world.observed.model_copy(update={"checkpoint_cached": checkpoint is not None}))
    return ApplyResult(deployment=recipe.name, plan=plan, spec=spec, checkpoint=checkpoint)


def apply_recipe(
    recipe: Recipe,
    *,
    recipe_path: Path | None = None,
    report: Reporter = lambda _: None,
    dry_run: bool = False,
) -> ApplyResult:
    """Plan (dry run: only plan, without the lock), or plan and execute it; raise DeployctlError on failure."""
    from deployctl.runtimes.registry import get_runtime
    from deployctl.state import StateStore

    started = time.perf_counter()
    warnings = judge(recipe, recipe_path=recipe_path)
    for message in warnings:
        report(f"warning: {message}")
    store, runtime = StateStore(), get_runtime(recipe.runtime)
    if dry_run:
        result = plan_recipe(recipe, observe(recipe.name, runtime, store))
        result.warnings = warnings
        return result
    with store.lock(recipe.name):
        _pause("locked")
        world = observe(recipe.name, runtime, store)
        result = plan_recipe(recipe, world)
        result.warnings, result.timings["plan"] = warnings, time.perf_counter() - started
        report(str(result.plan))
        if result.plan.needs_checkpoint:
            result = _make_checkpoint(recipe, world, result, report)
        _pause("checkpoint")
        _execute(_Run(recipe, recipe_path, world, store, result, report))
    result.timings["total"] = time.perf_counter() - started
    return result


def _make_checkpoint(recipe: Recipe, world: _World, planned: ApplyResult, report: Reporter) -> ApplyResult:
    """Quantize/download while the old engine still serves; re-plan the engine with the now-known spec."""
    from deployctl.quantize.pipeline import prepare_checkpoint

    tick = time.perf_counter()
    checkpoint = prepare_checkpoint(recipe, progress=True, on_step=report)
    timings = {**planned.timings, "checkpoint": time.perf_counter() - tick}
    result = plan_recipe(recipe, world)
    if result.checkpoint is None or result.checkpoint.key != checkpoint.key:
        raise StateError(f"the checkpoint {checkpoint.key} just made cannot be found in the cache again")
    if result.plan.engine_operation.kind is not planned.plan.engine_operation.kind:
        report(f"with the checkpoint known, the engine step is: {result.plan.engine_operation}")
    result.timings, result.warnings = timings, planned.warnings
    return result


def rollback(name: str, *, to: int | None = None, report: Reporter = lambda _: None) -> ApplyResult:
    """Serve an earlier revision again from its cached checkpoint (no quantization, no recipe file).

    `to` is a revision number as `deployctl rollback --list` shows (1 = oldest kept); default: the one
    before the current. Fails clearly when that checkpoint folder was garbage-collected.
    """
    from deployctl.runtimes.registry import get_runtime
    from deployctl.state import StateStore

    store = StateStore()
    with store.lock(name):
        state = store.load(name)
        revision = _pick_revision(name, state, to)
        recipe = Recipe.model_validate(revision.recipe)
        checkpoint = _revision_checkpoint(name, revision)
        spec = revision.spec
        world = observe(name, get_runtime(recipe.runtime), store)
        desired = Desired(
            deployment=name, spec_hash=spec.spec_hash(), checkpoint=checkpoint.key,
            quantized=checkpoint.is_quantized, recipe_hash=revision.recipe_hash,
        )  # fmt: skip
        plan = make_plan(desired, world.observed.model_copy(update={"checkpoint_cached": True}))
        result = ApplyResult(deployment=name, plan=plan, spec=spec, checkpoint=checkpoint)
        report(str(plan))
        _execute(_Run(recipe, None, world, store, result, report))
    return result


def list_revisions(name: str) -> list[dict]:
    """The revisions kept for `name`, numbered as `rollback --to` takes them, oldest first."""
    from deployctl.state import StateStore

    state = StateStore().load(name)
    if state is None:
        raise StateError(
            f"no deployment named {name}", hint="`deployctl list` shows the deployments deployctl knows"
        )
    current = len(state.revisions)
    return [
        {
            "revision": n,
            "current": n == current,
            "at": rev.at.isoformat(timespec="seconds"),
            "format": (rev.recipe or {}).get("quantization", {}).get("format"),
            "checkpoint": rev.checkpoint_key,
            "spec_hash": rev.spec_hash,
            "checkpoint_present": bool(
                rev.checkpoint_path and Path(rev.checkpoint_path, "config.json").is_file()
            ),
        }
        for n, rev in enumerate(state.revisions, 1)
    ]


def _pick_revision(name: str, state, to: int | None):
    if state is None:
        raise StateError(
            f"no deployment named {name}", hint="`deployctl list` shows the deployments deployctl knows"
        )
    count = len(state.revisions)
    number = to if to is not None else count - 1
    if not 1 <= number <= count:
        raise StateError(
            f"{name} has no revision {number}; revisions kept: 1..{count} ({count} is the current one)",
            hint=f"`deployctl rollback {name} --list` shows them",
        )
    revision = state.revisions[number - 1]
    if revision.recipe is None or revision.spec is None:
        raise StateError(
            f"revision {number} of {name} was recorded by an older deployctl without its recipe",
            hint="apply that revision's recipe file instead",
        )
    return revision


def _revision_checkpoint(name: str, revision) -> Checkpoint:
    path = Path(revision.checkpoint_path or "")
    if not (path / "config.json").is_file():
        raise StateError(
            f"the checkpoint of that revision ({revision.checkpoint_key}) is gone from {path}",
            hint="it was garbage-collected or deleted; re-create it with `deployctl apply` on the revision's "
            f"recipe (`deployctl rollback {name} --list` shows its format), which quantizes it again",
        )
    recipe = Recipe.model_validate(revision.recipe)
    return Checkpoint(
        path=path, key=revision.checkpoint_key, format=recipe.quantization.format,
        kv_cache=recipe.quantization.kv_cache, source=recipe.model.display,
    )  # fmt: skip


@dataclass
class _Run:
    """One execution of a plan: inputs and the result being filled in."""

    recipe: Recipe
    recipe_path: Path | None
    world: _World
    store: object
    result: ApplyResult
    report: Reporter

    @property
    def spec(self) -> LaunchSpec:
        assert self.result.spec is not None
        return self.result.spec


def _execute(run: _Run) -> None:
    """Take the plan's steps in order: orphans, then the one engine operation."""
    plan, runtime, handles = run.result.plan, run.world.runtime, run.world.handles
    run.result.changed = plan.has_changes
    for name in plan.orphans:
        run.report(f"removing {name} (left by an interrupted run; not in state)")
        runtime.remove(handles[name])
    op = plan.engine_operation
    recorded = handles.get(run.world.observed.recorded_instance or "")
    if op.kind is OperationKind.KEEP:
        run.result.endpoint = recorded.endpoint
        if any(o.kind is OperationKind.RECORD for o in plan.operations):
            _record(run, recorded)
        return
    if op.kind is OperationKind.RESTART:
        runtime.stop(recorded, timeout=STOP_TIMEOUT_S)  # a no-op when it is stopped already
        _start_and_verify(run, lambda: runtime.start(recorded), replaced=None)
    elif op.kind is OperationKind.CREATE:
        _start_and_verify(run, lambda: _launch(run), replaced=None)
    else:
        _replace(run, recorded)


def _replace(run: _Run, old) -> None:
    """Stop the old engine (kept), start the new one; restore the old on any failure."""
    runtime = run.world.runtime
    run.report(f"stopping {old.name} (kept until the new engine passes its smoke test)")
    stopped_at = time.perf_counter()
    runtime.stop(old, timeout=STOP_TIMEOUT_S)
    _pause("stopped")
    _start_and_verify(run, lambda: _launch(run), replaced=(old, stopped_at))
    run.report(f"retiring {old.name}")
    runtime.remove(old)


def _start_and_verify(run: _Run, start: Callable, *, replaced) -> object:
    """Start, wait healthy, smoke, record; on failure remove what was started and restore `replaced`."""
    from deployctl.serve.health import wait_until_healthy

    runtime, spec, result = run.world.runtime, run.spec, run.result
    fresh = replaced is not None or result.plan.engine_operation.kind is OperationKind.CREATE
    handle = None
    try:
        tick = time.perf_counter()
        handle = start()
        _pause("launched")
        run.report(f"started {handle.name}; waiting for {spec.health_path}")
        wait_until_healthy(runtime, handle, spec, deadline_s=spec.startup_budget_s)
        result.timings["engine_start"] = time.perf_counter() - tick
        if replaced is not None:
            result.downtime_s = time.perf_counter() - replaced[1]
        result.endpoint = handle.endpoint
        if run.recipe.smoke.enabled:
            tick = time.perf_counter()
            result.smoke = smoke_test(run.recipe, handle.endpoint, model=spec.engine_args.served_name)
            result.timings["smoke"] = time.perf_counter() - tick
        _pause("smoked")
        _record(run, handle)
        _pause("recorded")
    except BaseException as failure:
        if handle is not None and fresh:
            _discard(runtime, handle, run.report)
        if replaced is not None:
            _restore(run, replaced, failure)
        raise
    return handle


def _launch(run: _Run):
    _create_writable_mounts(run.recipe, run.spec)
    return run.world.runtime.launch(run.spec, role="active", name=instance_name(run.spec))


def _record(run: _Run, handle) -> None:
    from deployctl.state import DeploymentState

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


def _restore(run: _Run, replaced, failure: BaseException) -> None:
    """Start the old engine again and wait until it answers; note how long the endpoint was down."""
    from deployctl.serve.health import wait_until_healthy

    old, stopped_at = replaced
    runtime, previous = run.world.runtime, run.world.previous
    what = type(failure).__name__ if not isinstance(failure, DeployctlError) else failure.message
    run.report(f"the new engine failed ({what}); restarting {old.name}")
    restored = runtime.start(old)
    wait_until_healthy(runtime, restored, previous.spec, deadline_s=previous.spec.startup_budget_s)
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


def _pause(step: str) -> None:
    """Test hook (see the module docstring): hold still at `step` so a test can kill this process."""
    if os.environ.get(PAUSE_ENV) == step:
        print(f"deployctl: paused at {step} ({PAUSE_ENV})", file=sys.stderr, flush=True)
        time.sleep(3600)
