"""The front's part of observe and plan: what runs, what the recipe wants, what the run will use.

Kept apart from the adapter so that `apply` imports it cheaply; the adapter is imported when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from deployctl.errors import DeployctlError
from deployctl.recipe.model import Recipe, RuntimeKind

if TYPE_CHECKING:
    from deployctl.front.cutover import Front
    from deployctl.launch_spec import LaunchSpec

DEFAULT_HEALTH_PATH = "/health"


def resolve_front(recipe: Recipe) -> Recipe:
    """`serve.front: auto` made concrete: haproxy for a local engine that may be swapped, when HAProxy
    is installed; none otherwise. `haproxy` asked for explicitly must be installed (else the error
    says how to install it), before any side effect."""
    from deployctl.front.haproxy import haproxy_binary

    wanted = recipe.serve.front
    if wanted == "auto":
        local = recipe.runtime.kind is RuntimeKind.PROCESS and recipe.serve.swap != "replace"
        wanted = "haproxy" if local and _installed() else "none"
    elif wanted == "haproxy" and recipe.runtime.kind is RuntimeKind.PROCESS:
        haproxy_binary()
    return recipe.model_copy(update={"serve": recipe.serve.model_copy(update={"front": wanted})})


def _installed() -> bool:
    from deployctl.front.haproxy import haproxy_binary

    try:
        haproxy_binary()
    except DeployctlError:
        return False
    return True


def observe_front(deployment: str, recorded: Any) -> dict[str, Any]:
    """The `Observed` fields about the front: how it runs, and the recorded engine's address."""
    from deployctl.front.cutover import upstream_address
    from deployctl.front.haproxy import HaproxyFront
    from deployctl.plan import FrontObserved

    seen = HaproxyFront(deployment).observe()
    front = None
    if seen is not None:
        front = FrontObserved(running=seen.running, identity=seen.identity, upstreams=seen.upstreams)
    return {"front": front, "recorded_upstream": upstream_address(recorded) if recorded else None}


def desired_front(recipe: Recipe, spec: LaunchSpec | None, previous: Any) -> dict[str, Any]:
    """The `Desired` fields about the front, and the downtime a replace is expected to cost."""
    from deployctl.front.cutover import front_spec

    started = (previous.timings.get("engine_start") if previous else None) or None
    last = f"~{started:.0f} s, the last engine start" if started else "one engine start"
    if not recipe.has_front:
        return {"expected_downtime": f"{last} (the port is closed meanwhile)" if previous else ""}
    wanted = front_spec(recipe, spec.health_path if spec else DEFAULT_HEALTH_PATH)
    return {
        "front": f"haproxy on {recipe.serve.host}:{recipe.serve.port}",
        "front_identity": wanted.identity(),
        "expected_downtime": f"{last} (503 + Retry-After from the front)" if previous else "",
    }


def front_of(recipe: Recipe, result: Any) -> Front | None:
    """The front the executor drives for this run (None without one), its key read now."""
    from deployctl.front.cutover import front_for

    spec = result.spec if result is not None else None
    return front_for(recipe, spec.health_path if spec else DEFAULT_HEALTH_PATH)
