"""Observe: what the state document says and what the runtime finds by label, with health probed.

One place for `apply`, `plan`, `rollback` (`observe`) and `status` (`instance_health`): an instance
that runs but does not answer its health path within `HEALTH_PROBE_TIMEOUT_S` is `unhealthy`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from deployctl.instance import Handle
from deployctl.plan import Instance, Observed, ObservedPhase
from deployctl.runtimes.base import NetworkRuntime, Runtime
from deployctl.state import DeploymentState, StateStore

HEALTH_PROBE_TIMEOUT_S = 1.0

HealthProbe = Callable[[Handle, str], bool]  # (instance, health path) → answers 200 now


@dataclass(frozen=True)
class World:
    """What observe found: the runtime, the state document and the labelled instances by name."""

    runtime: Runtime
    previous: DeploymentState | None
    handles: dict[str, Handle]
    observed: Observed


def instance_health(handle: Handle, health_path: str) -> bool:
    """Does the instance answer its health path now (one short request)?"""
    from deployctl.serve.health import probe

    return probe(handle.endpoint + health_path, timeout_s=HEALTH_PROBE_TIMEOUT_S) == 200


def observe_front(deployment: str, recorded: Handle | None) -> dict:
    """The `Observed` fields about the deployment's front (docs/front.md), if it has one."""
    from deployctl.front.observe import observe_front as front_fields

    return front_fields(deployment, recorded)


def observe(
    deployment: str, runtime: Runtime, store: StateStore, *, healthy: HealthProbe = instance_health
) -> World:
    """State plus reality: every instance labelled for `deployment`, the recorded one probed for health."""
    previous = store.load(deployment)
    recorded = previous.handle.name if previous else None
    handles = {h.name: h for h in runtime.find(deployment)}
    instances = [_instance(runtime, handle, previous, healthy) for handle in handles.values()]
    observed = Observed(
        recorded_instance=recorded,
        recorded_recipe_hash=previous.recipe_hash if previous else None,
        instances=tuple(instances),
        **observe_front(deployment, previous.handle if previous else None),
    )
    return World(runtime=runtime, previous=previous, handles=handles, observed=observed)


def _instance(
    runtime: Runtime, handle: Handle, previous: DeploymentState | None, healthy: HealthProbe
) -> Instance:
    phase: ObservedPhase = runtime.state(handle).phase
    attached = None
    if previous is not None and handle.name == previous.handle.name and phase == "running":
        if not healthy(handle, previous.spec.health_path):
            phase = "unhealthy"
        network = previous.spec.service_network
        if network and phase == "running" and isinstance(runtime, NetworkRuntime):
            attached = runtime.attached(handle, network)
    return Instance(name=handle.name, spec_hash=handle.spec_hash, phase=phase, attached=attached)
