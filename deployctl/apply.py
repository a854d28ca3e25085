"""`deployctl apply`/`plan`/`rollback`: judge → lock → observe → plan → checkpoint → execute → state.

This module sequences the stages and owns no decisions: the verdict (and the swap strategy) comes
from `capability`, the plan from `plan.make_plan`, the command line from the engine adapter, the
execution of the engine step from `execute`, side effects from the runtime and quantize adapters.

The checkpoint is always made while the old engine still serves. A deployctl killed outright leaves
state naming an engine that passed its smoke test, and the next plan sees the difference (plan.py).
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deployctl import settings
from deployctl.apply_result import ApplyResult
from deployctl.capability.verdict import SwapChoice
from deployctl.checkpoint import Checkpoint
from deployctl.errors import DeployctlError, StateError, unknown_deployment
from deployctl.execute import Reporter, Run, execute
from deployctl.front.observe import desired_front, front_of, resolve_front
from deployctl.launch_spec import LaunchSpec
from deployctl.observe import World, observe
from deployctl.pause import pause
from deployctl.plan import Desired, make_plan
from deployctl.recipe.lines import carry_lines
from deployctl.recipe.model import Recipe
from deployctl.state import DeploymentState, Revision, recipe_hash

if TYPE_CHECKING:
    from deployctl.capability.profiles import ProfileChoice
    from deployctl.capability.verdict import Verdict
    from deployctl.quality.gate import SwapGate

__all__ = ["ApplyResult", "apply_recipe", "rollback", "recipe_hash", "judge", "build_spec"]


def judge(recipe: Recipe, *, recipe_path: Path | None = None) -> tuple[list[str], SwapChoice, Recipe]:
    """Refuse impossible recipes before any side effect; return the fallback warnings, the swap choice,
    and the recipe to deploy (with the max_model_len chosen when it was unset and the context does not fit,
    and the matching tuned profile's options where the recipe leaves them unset).
    The local files and the verdict (for the engine version that will run) come from
    preflight.judge_preflight."""
    warnings, swap, recipe, _ = judge_with_profile(recipe, recipe_path=recipe_path)
    return warnings, swap, recipe


def judge_with_profile(
    recipe: Recipe, *, recipe_path: Path | None = None
) -> tuple[list[str], SwapChoice, Recipe, ProfileChoice | None]:
    """`judge`, and the profile whose options the returned recipe carries (None: engine defaults)."""
    from deployctl.capability import raise_if_rejected
    from deployctl.capability.verdict import fitted_recipe
    from deployctl.errors import CapabilityRejected
    from deployctl.preflight import judge_preflight
    from deployctl.recipe.lines import recipe_line

    if recipe.gpu.nodes > 1:
        raise CapabilityRejected(
            f"gpu.nodes: {recipe.gpu.nodes} needs a cluster; deployctl apply starts engines on this machine",
            file=recipe_path,
            line=recipe_line(recipe, "gpu.nodes"),
            field="gpu.nodes",
            hint="render it for Kubernetes: deployctl render --target lws (vLLM) or --target dynamo RECIPE",
        )
    verdict = judge_preflight(recipe, recipe_path=recipe_path)  # local files, then the version that will run
    raise_if_rejected(verdict, recipe, file=recipe_path)
    version_warning = verdict.engine_version.warning if verdict.engine_version else None
    warnings = [version_warning] if version_warning else []
    warnings += verdict.warnings
    if verdict.memory is not None and (chosen := verdict.memory.chosen_max_model_len):
        warnings.append(
            f"engine.max_model_len is not set and the model's full context does not fit on {verdict.gpu.name}; "
            f"using max_model_len {chosen}, the longest that fits (set engine.max_model_len to choose)"
        )
    recipe = fitted_recipe(recipe, verdict)
    recipe, choice = _with_profile(recipe, verdict, recipe_path)
    if not recipe.serve.api_key_env:
        if recipe.serve.network:
            warnings.append(
                f"the engine answers on network {recipe.serve.network} without an API key: any container on "
                "it can use it; set serve.api_key_env"
            )
        elif recipe.serve.host not in ("127.0.0.1", "localhost", "::1"):
            warnings.append(
                f"the engine listens on {recipe.serve.host}:{recipe.serve.port} without an API key: anyone who "
                "can reach this machine can use it; set serve.api_key_env or serve.host: 127.0.0.1"
            )
    assert verdict.swap is not None
    return warnings, verdict.swap, recipe, choice


def _with_profile(
    recipe: Recipe, verdict: Verdict, recipe_path: Path | None
) -> tuple[Recipe, ProfileChoice | None]:
    """The tuned profile (capability/profiles.py) for this GPU, engine version, formats and shape, merged."""
    from deployctl.capability.profiles import ProfileKey, choose_profile, load_profiles, merge_profile
    from deployctl.capability.shapes import resolve_shape

    if recipe.engine.profile == "none":
        return recipe, None
    profiles = load_profiles()
    if not profiles:
        return recipe, None
    key = ProfileKey.of(recipe, verdict, resolve_shape(recipe.model))
    try:
        profile = choose_profile(recipe, key, profiles)
    except DeployctlError as exc:
        exc.file = exc.file or recipe_path
        raise
    if profile is None:
        return recipe, None
    merged, choice = merge_profile(recipe, profile)
    return carry_lines(merged, recipe), choice


def swap_choice_of(recipe: Recipe) -> SwapChoice:
    """The strategy for a recorded recipe (rollback): replace whenever the judge cannot run here."""
    from deployctl.errors import DeployctlError

    try:
        return judge(recipe)[1]
    except DeployctlError as exc:
        return SwapChoice(strategy="replace", reason=f"not judged again: {exc.message}")


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


def plan_recipe(
    recipe: Recipe, world: World, swap: SwapChoice | None = None, profile: ProfileChoice | None = None
) -> ApplyResult:
    """The plan from what exists on disk now: never quantizes, downloads or generates. `profile`: the
    tuned profile already merged into `recipe` (judge_with_profile), named in the plan."""
    from deployctl.quantize.lookup import find_checkpoint, missing_reason, quantize_cost

    checkpoint = find_checkpoint(recipe)
    spec = build_spec(recipe, checkpoint) if checkpoint else None
    quantized = recipe.quantization.format.value != "none" or recipe.quantization.kv_cache.value != "none"
    placement = _calibration_placement(recipe, world) if quantized and checkpoint is None else None
    desired = Desired(
        deployment=recipe.name,
        spec_hash=spec.spec_hash() if spec else None,
        checkpoint=checkpoint.key if checkpoint else recipe.model.display,
        quantized=quantized,
        dummy_weights=recipe.model.dummy,
        quantize_cost="" if checkpoint else quantize_cost(recipe),
        missing_reason="" if checkpoint else missing_reason(recipe),
        recipe_hash=recipe_hash(recipe),
        calibration=placement.summary() if placement else "",
        **_strategy(recipe, swap),
        **desired_front(recipe, spec, world.previous),
    )
    plan = make_plan(desired, world.observed.model_copy(update={"checkpoint_cached": checkpoint is not None}))
    if profile is not None:
        plan = plan.model_copy(update={"notes": (profile.summary(),)})
    return ApplyResult(
        deployment=recipe.name, plan=plan, spec=spec, checkpoint=checkpoint, calibration=placement,
        profile=profile,
    )  # fmt: skip


def _check_calibration_room(recipe: Recipe) -> None:
    """Refuse, before the lock, a recipe whose calibration fits nowhere (the plan decides again under it)."""
    from deployctl.quantize.lookup import find_checkpoint, model_folder
    from deployctl.quantize.room import place

    quantized = recipe.quantization.format.value != "none" or recipe.quantization.kv_cache.value != "none"
    if quantized and find_checkpoint(recipe) is None:
        place(recipe, model_folder(recipe))


def _calibration_placement(recipe: Recipe, world: World):
    """Where calibration would run now (CapabilityRejected when nowhere): the serving engine counts as
    holding its share unless it is observed stopped."""
    from deployctl.quantize.lookup import model_folder
    from deployctl.quantize.room import place

    recorded = next((i for i in world.observed.instances if i.name == world.observed.recorded_instance), None)
    stopped = [recipe.name] if recorded is None or recorded.phase in ("exited", "missing") else []
    return place(recipe, model_folder(recipe), not_running=stopped)


def _strategy(recipe: Recipe, swap: SwapChoice | None) -> dict[str, str | None]:
    """The Desired fields about how a changed engine is swapped in."""
    swap = swap or SwapChoice(strategy="replace", reason="")
    network = recipe.serve.network
    return {
        "strategy": swap.strategy,
        "strategy_note": swap.reason if network or recipe.serve.swap == "blue-green" else "",
        "service": f"{recipe.name}:{recipe.serve.port} on {network}" if network else None,
    }


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
    recipe = carry_lines(resolve_front(recipe), recipe)  # errors below still point at the recipe's lines
    warnings, swap, recipe, profile = judge_with_profile(recipe, recipe_path=recipe_path)
    for message in warnings:
        report(f"warning: {message}")
    report(_judged_for(recipe))
    if profile is not None:
        report(profile.summary())
    store, runtime = StateStore(), get_runtime(recipe.runtime)
    if not dry_run:
        front_of(recipe, None)  # a front's key must be set before anything is quantized or stopped
    if dry_run:
        world = observe(recipe.name, runtime, store)
        # a plan during an apply must not call the apply's new, not yet recorded engine an orphan
        in_flight = world.observed.model_copy(update={"apply_in_flight": store.lock_holder(recipe.name)})
        result = _located(recipe_path, plan_recipe, recipe, replace(world, observed=in_flight), swap, profile)
        result.warnings = warnings + _checked(recipe, result.checkpoint, recipe_path, report)
        return result
    _located(recipe_path, _check_calibration_room, recipe)  # a refusal here leaves not even a lock file
    with store.lock(recipe.name):
        pause("locked")
        world = observe(recipe.name, runtime, store)
        result = _located(recipe_path, plan_recipe, recipe, world, swap, profile)
        result.warnings, result.timings["plan"] = warnings, time.perf_counter() - started
        report(str(result.plan))
        if result.plan.needs_checkpoint:
            result = _make_checkpoint(recipe, world, result, report, swap)
        result.warnings += _checked(
            recipe, result.checkpoint, recipe_path, report
        )  # before the engine starts
        pause("checkpoint")
        check = _candidate_check(recipe, world, result, report)
        execute(
            Run(
                recipe, recipe_path, world, store, result, report, front=front_of(recipe, result), check=check
            )
        )
        result.warnings += check.warnings if check else []
    result.timings["total"] = time.perf_counter() - started
    return result


def _judged_for(recipe: Recipe) -> str:
    from deployctl.preflight import engine_version

    return f"judged for {engine_version(recipe).label()}"


def _checked(
    recipe: Recipe, checkpoint: Checkpoint | None, recipe_path: Path | None, report: Reporter
) -> list[str]:
    """The checkpoint check (preflight.py) when the checkpoint exists; its warnings, also reported."""
    from deployctl.preflight import check_before_launch

    if checkpoint is None:
        return []
    warnings = check_before_launch(recipe, checkpoint, recipe_path=recipe_path)
    for message in warnings:
        report(f"warning: {message}")
    return warnings


def _located(recipe_path: Path | None, fn, *args):
    """Run fn; a refusal it raises names the recipe file (the calibration placement cannot know it)."""
    from deployctl.errors import DeployctlError

    try:
        return fn(*args)
    except DeployctlError as exc:
        if exc.file is None and exc.field:
            exc.file = recipe_path
        raise


def _make_checkpoint(
    recipe: Recipe, world: World, planned: ApplyResult, report: Reporter, swap: SwapChoice
) -> ApplyResult:
    """Quantize/download while the old engine still serves; re-plan the engine with the now-known spec."""
    from deployctl.quantize.pipeline import prepare_checkpoint

    tick = time.perf_counter()
    checkpoint = prepare_checkpoint(recipe, progress=True, on_step=report, placement=planned.calibration)
    timings = {**planned.timings, "checkpoint": time.perf_counter() - tick}
    result = plan_recipe(recipe, world, swap, planned.profile)
    if result.checkpoint is None or result.checkpoint.key != checkpoint.key:
        raise StateError(f"the checkpoint {checkpoint.key} just made cannot be found in the cache again")
    if result.plan.engine_operation.kind is not planned.plan.engine_operation.kind:
        report(f"with the checkpoint known, the engine step is: {result.plan.engine_operation}")
    result.timings, result.warnings, result.calibration = timings, planned.warnings, planned.calibration
    return result


def _candidate_check(recipe: Recipe, world: World, result: ApplyResult, report: Reporter) -> SwapGate | None:
    """The task gate (`quality.max_task_drop`) when this apply swaps in another checkpoint, else None."""
    if not recipe.quality.gated or result.checkpoint is None or result.spec is None:
        return None
    from deployctl.quality.gate import swap_gate

    return swap_gate(recipe, world.previous, result.checkpoint, result.spec.engine_args.served_name, report)


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
        recipe = _revision_recipe(name, revision)
        checkpoint = _revision_checkpoint(name, revision)
        spec = revision.spec
        assert spec is not None  # _pick_revision refuses a revision recorded without its spec
        world = observe(name, get_runtime(recipe.runtime), store)
        swap = swap_choice_of(recipe)
        desired = Desired(
            deployment=name, spec_hash=spec.spec_hash(), checkpoint=checkpoint.key,
            quantized=checkpoint.is_quantized, dummy_weights=recipe.model.dummy, recipe_hash=revision.recipe_hash,
            **_strategy(recipe, swap), **desired_front(recipe, spec, world.previous),
        )  # fmt: skip
        plan = make_plan(desired, world.observed.model_copy(update={"checkpoint_cached": True}))
        result = ApplyResult(deployment=name, plan=plan, spec=spec, checkpoint=checkpoint)
        report(str(plan))
        execute(Run(recipe, None, world, store, result, report, front=front_of(recipe, result)))
    return result


def list_revisions(name: str) -> list[dict[str, Any]]:
    """The revisions kept for `name`, numbered as `rollback --to` takes them, oldest first."""
    from deployctl.state import StateStore

    state = StateStore().load(name)
    if state is None:
        raise unknown_deployment(name)
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


def _pick_revision(name: str, state: DeploymentState | None, to: int | None) -> Revision:
    if state is None:
        raise unknown_deployment(name)
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


def _revision_recipe(name: str, revision: Revision) -> Recipe:
    """The recipe a revision was deployed with; one this deployctl no longer accepts (its checks grew
    stricter) is a StateError saying so, not a traceback."""
    from pydantic import ValidationError

    try:
        return Recipe.model_validate(revision.recipe)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise StateError(
            f"the recipe of that revision of {name} is no longer valid: "
            f"{'.'.join(map(str, first['loc']))}: {first['msg']}",
            hint="apply a corrected recipe instead of rolling back to it",
        ) from None


def _revision_checkpoint(name: str, revision: Revision) -> Checkpoint:
    path = Path(revision.checkpoint_path or "")
    if not (path / "config.json").is_file():
        raise StateError(
            f"the checkpoint of that revision ({revision.checkpoint_key}) is gone from {path}",
            hint="it was garbage-collected or deleted; re-create it with `deployctl apply` on the revision's "
            f"recipe (`deployctl rollback {name} --list` shows its format), which quantizes it again",
        )
    recipe = _revision_recipe(name, revision)
    return Checkpoint(
        path=path, key=revision.checkpoint_key, format=recipe.quantization.format,
        kv_cache=recipe.quantization.kv_cache, source=recipe.model.display,
    )  # fmt: skip
