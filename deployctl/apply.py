"""`deployctl apply`: validate → verdict → plan → checkpoint → launch → healthy → smoke → state.

This module sequences the stages and owns no decisions beyond executing the plan: the verdict comes
from `capability`, the plan from `plan.make_plan`, the command line from the engine adapter, side
effects from the runtime and quantize adapters. A failed replace restores the engine that served
before, so an operator's endpoint is never left down by a bad recipe.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from deployctl import settings
from deployctl.checkpoint import Checkpoint
from deployctl.errors import DeployctlError, EngineStartFailed, SmokeTestFailed
from deployctl.launch_spec import LaunchSpec
from deployctl.plan import Desired, Observed, OperationKind, Plan, make_plan
from deployctl.recipe.model import Recipe, RuntimeKind

Reporter = Callable[[str], None]


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
    downtime_s: float | None = None
    warnings: list[str] = field(default_factory=list)
    changed: bool = True


def recipe_hash(recipe: Recipe) -> str:
    payload = json.dumps(recipe.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


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
    hf_cache = settings.hf_cache_dir()
    engine_cache = settings.home() / "engine-cache" / recipe.engine.name.value
    placement = Placement.for_runtime(
        recipe.runtime.kind,
        checkpoint,
        config_dir=str(run_dir),
        hf_cache=str(hf_cache),
        engine_cache=str(engine_cache),
    )
    return build_launch_spec(recipe, checkpoint, placement)


def _create_writable_mounts(recipe: Recipe, spec: LaunchSpec) -> None:
    """Caches the engine writes to must exist before it starts (bind-mount sources, cache variables)."""
    folders = [m.source for m in spec.mounts if not m.read_only and m.purpose in ("hf-cache", "engine-cache")]
    if recipe.runtime.kind is RuntimeKind.PROCESS:  # the engine's variables then name host folders
        folders += [spec.env[name] for name in ("HF_HUB_CACHE", "VLLM_CACHE_ROOT") if name in spec.env]
    for folder in folders:
        Path(folder).mkdir(parents=True, exist_ok=True)


def observe(recipe: Recipe, runtime, state) -> Observed:
    """Gather what exists: deployctl-labelled instances of this deployment and the recorded state."""
    instances = tuple((h.name, h.spec_hash, runtime.state(h).phase) for h in runtime.find(recipe.name))
    return Observed(
        recorded_spec_hash=state.spec_hash if state else None,
        recorded_checkpoint=state.checkpoint_key if state else None,
        running_instances=instances,
    )


def apply_recipe(
    recipe: Recipe, *, recipe_path: Path | None = None, report: Reporter = lambda _: None, dry_run: bool = False
) -> ApplyResult:
    """Run the whole pipeline for one recipe; raise a DeployctlError on any failure."""
    from deployctl.quantize.pipeline import prepare_checkpoint
    from deployctl.runtimes.registry import get_runtime
    from deployctl.state import StateStore

    timings: dict[str, float] = {}
    started = time.perf_counter()
    warnings = judge(recipe, recipe_path=recipe_path)
    timings["validate"] = time.perf_counter() - started
    for message in warnings:
        report(f"warning: {message}")

    store = StateStore()
    with store.lock(recipe.name):
        runtime = get_runtime(recipe.runtime.kind, python=recipe.runtime.python)
        previous = store.load(recipe.name)

        tick = time.perf_counter()
        checkpoint = prepare_checkpoint(recipe, progress=not dry_run)
        timings["checkpoint"] = time.perf_counter() - tick

        spec = build_spec(recipe, checkpoint)
        if not dry_run:
            _create_writable_mounts(recipe, spec)
        observed = observe(recipe, runtime, previous)
        plan = make_plan(
            Desired(
                deployment=recipe.name,
                spec_hash=spec.spec_hash(),
                checkpoint=checkpoint.key,
                quantized=checkpoint.is_quantized,
            ),
            observed.model_copy(update={"checkpoint_cached": True}),
        )
        result = ApplyResult(deployment=recipe.name, plan=plan, spec=spec, checkpoint=checkpoint, warnings=warnings)
        if dry_run:
            return result
        _execute(plan, recipe, recipe_path, spec, checkpoint, runtime, store, previous, result, report)
        result.timings = {**timings, **result.timings, "total": time.perf_counter() - started}
        return result


def _execute(plan, recipe, recipe_path, spec, checkpoint, runtime, store, previous, result, report) -> None:
    from deployctl.serve.health import wait_until_healthy

    existing = {h.name: h for h in runtime.find(recipe.name)}
    engine_op = plan.engine_operation
    if engine_op.kind is OperationKind.KEEP:
        handle = next(h for h in existing.values() if h.spec_hash == spec.spec_hash())
        result.endpoint = handle.endpoint
        result.changed = False
        _remove_orphans(plan, existing, runtime, report)
        return

    old = next((h for h in existing.values() if runtime.state(h).running), None)
    if engine_op.kind is OperationKind.RESTART:
        handle = next(h for h in existing.values() if h.spec_hash == spec.spec_hash())
        handle = runtime.start(handle)
        wait_until_healthy(runtime, handle, spec, deadline_s=spec.startup_budget_s)
        _finish(recipe, recipe_path, spec, checkpoint, handle, store, previous, result, report, smoke=True)
        return

    swap_started = time.perf_counter()
    if old is not None:
        report(f"stopping {old.name} (kept until the new engine passes its smoke test)")
        runtime.stop(old, timeout=30)
    try:
        tick = time.perf_counter()
        # A name per spec: the old instance keeps its name (and stays restorable) while the new one starts.
        handle = runtime.launch(spec, role="active", name=instance_name(spec))
        report(f"started {handle.name}; waiting for {spec.health_path}")
        wait_until_healthy(runtime, handle, spec, deadline_s=spec.startup_budget_s)
        result.timings["engine_start"] = time.perf_counter() - tick
        _finish(recipe, recipe_path, spec, checkpoint, handle, store, previous, result, report, smoke=True)
    except BaseException as failure:
        _roll_back(runtime, locals().get("handle"), old, spec, report, failure)
        raise
    if old is not None:
        result.downtime_s = time.perf_counter() - swap_started
        runtime.remove(old)
    _remove_orphans(plan, existing, runtime, report, keep={handle.name} | ({old.name} if old else set()))


def _finish(recipe, recipe_path, spec, checkpoint, handle, store, previous, result, report, *, smoke: bool) -> None:
    from deployctl.state import DeploymentState

    result.endpoint = handle.endpoint
    if smoke and recipe.smoke.enabled:
        tick = time.perf_counter()
        result.smoke = smoke_test(recipe, handle.endpoint, model=spec.engine_args.served_name)
        result.timings["smoke"] = time.perf_counter() - tick
    state = DeploymentState.record(
        previous,
        smoke=result.smoke,
        recipe=recipe,
        recipe_path=str(recipe_path) if recipe_path else None,
        recipe_hash=recipe_hash(recipe),
        checkpoint=checkpoint,
        spec=spec,
        handle=handle,
        timings=result.timings,
    )
    store.save(state)


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
    return f"deployctl-{spec.deployment}-{spec.spec_hash()[:8]}"


def _roll_back(runtime, new, old, spec, report, failure: BaseException) -> None:
    """Remove the failed engine; bring the previous one back and check it answers again."""
    from deployctl.serve.health import wait_until_healthy

    if new is not None:
        try:
            runtime.remove(new)
        except DeployctlError as exc:  # keep the original failure as the one reported
            report(f"could not remove the failed engine {new.name}: {exc}")
    if old is None:
        return
    kind = "smoke test" if isinstance(failure, SmokeTestFailed) else "start" if isinstance(failure, EngineStartFailed) else "apply"
    report(f"new engine failed its {kind}; restarting {old.name}")
    restored = runtime.start(old)
    wait_until_healthy(runtime, restored, spec, deadline_s=spec.startup_budget_s)
    report(f"{old.name} is serving again")


def _remove_orphans(plan: Plan, existing, runtime, report, keep: set[str] = frozenset()) -> None:
    for op in plan.operations:
        if op.kind is OperationKind.REMOVE_ORPHAN and op.resource in existing and op.resource not in keep:
            report(f"removing {op.resource} ({op.cause})")
            runtime.remove(existing[op.resource])
