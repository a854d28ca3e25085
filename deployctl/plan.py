"""The plan: a pure function from (what the recipe wants, what is observed) to the steps apply takes.

`Plan.__str__` is both `deployctl plan`'s output and the golden-test format, and `apply` executes
exactly the plan it printed, in the printed order: the executor makes no decisions of its own.

Reconciliation lives here. The state document names ONE instance (the one that passed its smoke
test last); every other instance labelled for the deployment is an orphan of an interrupted run
(a new engine that never got recorded, an old one that was never retired) and is removed first,
so it cannot hold the port or be mistaken for the served one. Nothing unlabelled is ever observed,
so nothing deployctl did not create can appear in a plan.

The front (docs/front.md), when the recipe has one, is reconciled the same way: one that is not
running, runs with another configuration, or routes to anything but the recorded engine gets a
`front` step; one the recipe no longer wants is removed. A front routing to an orphan (a swap killed
after the switch) is pointed back at the recorded engine before the orphan goes.
"""

from __future__ import annotations

from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict


class OperationKind(str, Enum):
    QUANTIZE = "quantize"  # cache miss: calibrate and export (the old engine keeps serving meanwhile)
    FETCH_MODEL = "fetch-model"  # base model not on disk yet: download or generate it
    REUSE_CHECKPOINT = "reuse-checkpoint"  # cache hit, or the base model
    REMOVE_ORPHAN = "remove-orphan"  # labelled by deployctl for this deployment but not in state
    CREATE = "create"  # no engine recorded: start one
    REPLACE = "replace"  # stop the old engine (kept), start the new one, smoke, then retire the old
    BLUE_GREEN = "blue-green"  # start the new engine beside the old, smoke, move the network name, retire
    ATTACH = "attach"  # the recorded engine serves but is off serve.network (interrupted swap): put it back
    KEEP = "keep"  # the recorded engine runs, answers, and matches the recipe
    RESTART = "restart"  # the recorded engine matches but is stopped or not answering: start it again
    RECORD = "record"  # the engine is kept; only settings outside it (smoke, swap) changed: update state
    FRONT = (
        "front"  # start the front, restart it with a new configuration, or point it at the recorded engine
    )
    REMOVE_FRONT = "remove-front"  # a front runs but the recipe has none
    IN_FLIGHT = "in-flight"  # `plan` while an apply holds the lock: its new engine is not an orphan


ObservedPhase = Literal["running", "unhealthy", "exited", "missing"]


class Instance(BaseModel):
    """One labelled engine instance as observed: `unhealthy` = running but its health check fails."""

    model_config = ConfigDict(frozen=True)

    name: str
    spec_hash: str
    phase: ObservedPhase
    attached: bool | None = None  # on serve.network under the deployment's name; None: no network


class FrontObserved(BaseModel):
    """The deployment's front as observed: its process, the configuration it runs, where it routes."""

    model_config = ConfigDict(frozen=True)

    running: bool
    identity: str | None = None
    upstreams: tuple[str, ...] = ()  # host:port of the engines it sends new requests to


class Operation(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: OperationKind
    resource: str
    cause: str

    def __str__(self) -> str:
        return f"{self.kind.value:<17} {self.resource}: {self.cause}"


class Observed(BaseModel):
    """What exists now, gathered by the executor from state and the runtime's labels."""

    model_config = ConfigDict(frozen=True)

    recorded_instance: str | None = None  # the instance the state document names
    recorded_recipe_hash: str | None = None
    instances: tuple[Instance, ...] = ()  # every labelled instance of the deployment
    checkpoint_cached: bool = False
    front: FrontObserved | None = None  # None: no front recorded for the deployment
    recorded_upstream: str | None = None  # host:port of the recorded engine (what its front should route to)
    apply_in_flight: int | None = None  # pid of the apply holding the deployment's lock (0: unknown)


class Desired(BaseModel):
    model_config = ConfigDict(frozen=True)

    deployment: str
    spec_hash: str | None  # None while the checkpoint is not known yet (cache miss)
    checkpoint: str
    quantized: bool
    dummy_weights: bool = False  # model.weights: dummy: the engine initialises the weights
    quantize_cost: str = ""  # e.g. "~40 s as before"; shown on a cache miss
    missing_reason: str = ""  # what has to happen before the checkpoint exists (download, generate)
    recipe_hash: str | None = None
    strategy: Literal["replace", "blue-green"] = "replace"  # how a changed engine is swapped in
    strategy_note: str = ""  # why that strategy, when the recipe has a say in it (serve.network)
    service: str | None = None  # "<name>:<port> on <network>": the address a blue-green swap moves
    front: str | None = None  # "haproxy on <host>:<port>" when the recipe has a front
    front_identity: str | None = None  # FrontSpec.identity() of the wanted front
    expected_downtime: str = ""  # what a replace costs clients, e.g. "~12 s, the last engine start (503 ...)"
    calibration: str = ""  # where calibration runs, its estimate and why (calibration_placement.py)


class Plan(BaseModel):
    model_config = ConfigDict(frozen=True)

    deployment: str
    operations: tuple[Operation, ...]
    notes: tuple[str, ...] = ()  # what shaped the steps without being one (the tuned profile used)

    @property
    def has_changes(self) -> bool:
        return any(
            op.kind not in (OperationKind.KEEP, OperationKind.REUSE_CHECKPOINT) for op in self.operations
        )

    @property
    def engine_operation(self) -> Operation:
        return next(op for op in self.operations if op.kind in ENGINE_KINDS)

    @property
    def orphans(self) -> tuple[str, ...]:
        return tuple(op.resource for op in self.operations if op.kind is OperationKind.REMOVE_ORPHAN)

    @property
    def needs_checkpoint(self) -> bool:
        return any(op.kind in (OperationKind.QUANTIZE, OperationKind.FETCH_MODEL) for op in self.operations)

    def __str__(self) -> str:
        lines = [f"Plan for {self.deployment}:"]
        lines += [f"  {op}" for op in self.operations]
        lines += [f"  {'note':<17} {note}" for note in self.notes]
        lines.append("  → changes to apply" if self.has_changes else "  → no changes")
        return "\n".join(lines)


ENGINE_KINDS = (
    OperationKind.CREATE,
    OperationKind.REPLACE,
    OperationKind.BLUE_GREEN,
    OperationKind.KEEP,
    OperationKind.RESTART,
    OperationKind.ATTACH,
)


def make_plan(desired: Desired, observed: Observed) -> Plan:
    """Decide; never act. Order: checkpoint, orphans (they may hold the port), the engine; except that
    a serving engine is put back on its network before an orphan holding its name there is removed."""
    ops = [_checkpoint_operation(desired, observed)]
    engine = _engine_operation(desired, observed)
    front = _front_operation(desired, observed, engine)
    if engine.kind is OperationKind.ATTACH:
        ops.append(engine)
    if front is not None and front.kind is OperationKind.FRONT and engine.kind in _SERVING:
        ops.append(front)  # the recorded engine serves: route to it before any orphan goes
    for inst in observed.instances:
        if inst.name == observed.recorded_instance:
            continue
        if observed.apply_in_flight is not None:
            who = f"pid {observed.apply_in_flight}" if observed.apply_in_flight else "another deployctl"
            cause = f"apply in flight by {who} ({inst.phase}, spec {inst.spec_hash}); left to that run"
            ops.append(Operation(kind=OperationKind.IN_FLIGHT, resource=inst.name, cause=cause))
        else:
            cause = f"not in state ({inst.phase}, spec {inst.spec_hash})"
            ops.append(Operation(kind=OperationKind.REMOVE_ORPHAN, resource=inst.name, cause=cause))
    if front is not None and front.kind is OperationKind.REMOVE_FRONT:
        ops.append(front)  # it holds the public port the engine is about to bind
    if engine.kind is not OperationKind.ATTACH:
        ops.append(engine)
    if front is not None and front.kind is OperationKind.FRONT and engine.kind not in _SERVING:
        ops.append(front)
    if (
        engine.kind is OperationKind.KEEP
        and desired.recipe_hash
        and desired.recipe_hash != observed.recorded_recipe_hash
    ):
        cause = (
            f"recipe {observed.recorded_recipe_hash} → {desired.recipe_hash} changes nothing the engine runs"
        )
        ops.append(Operation(kind=OperationKind.RECORD, resource=f"state {desired.deployment}", cause=cause))
    return Plan(deployment=desired.deployment, operations=tuple(ops))


_SERVING = (OperationKind.KEEP, OperationKind.BLUE_GREEN)  # engine steps during which the recorded one serves


def _front_operation(desired: Desired, observed: Observed, engine: Operation) -> Operation | None:
    """The front's step, or None when it runs as wanted (or there is none and none is wanted)."""
    front = observed.front
    if desired.front is None:
        if front is not None:
            return Operation(
                kind=OperationKind.REMOVE_FRONT, resource=f"front {desired.deployment}",
                cause="the recipe has no front (serve.front); the engine takes the public port again",
            )  # fmt: skip
        return None
    resource = f"front {desired.front}"
    if front is None or not front.running:
        why = "not running" if front is None else "its process is gone"
        return Operation(kind=OperationKind.FRONT, resource=resource, cause=f"{why}: start it")
    if front.identity != desired.front_identity:
        cause = f"runs configuration {front.identity}, the recipe wants {desired.front_identity}: restart it"
        return Operation(kind=OperationKind.FRONT, resource=resource, cause=cause)
    if engine.kind in _SERVING and front.upstreams != (observed.recorded_upstream,):
        routes = ", ".join(front.upstreams) or "nothing (503)"
        cause = f"routes to {routes}, not the recorded engine at {observed.recorded_upstream}: switch it"
        return Operation(kind=OperationKind.FRONT, resource=resource, cause=cause)
    return None


def _checkpoint_operation(desired: Desired, observed: Observed) -> Operation:
    resource = desired.checkpoint
    if observed.checkpoint_cached and desired.dummy_weights:
        cause = "config.json and tokenizer only: the engine initialises random weights (model.weights: dummy)"
        return Operation(kind=OperationKind.REUSE_CHECKPOINT, resource=resource, cause=cause)
    if observed.checkpoint_cached:
        cause = "base model, no quantization" if not desired.quantized else "cache hit"
        return Operation(kind=OperationKind.REUSE_CHECKPOINT, resource=resource, cause=cause)
    if not desired.quantized:
        return Operation(
            kind=OperationKind.FETCH_MODEL, resource=resource, cause=desired.missing_reason or "not on disk"
        )
    cost = f" ({desired.quantize_cost})" if desired.quantize_cost else ""
    what = f"cache miss: {desired.missing_reason}" if desired.missing_reason else "cache miss"
    where = f"; {desired.calibration}" if desired.calibration else ""
    return Operation(kind=OperationKind.QUANTIZE, resource=resource, cause=f"{what}{cost}{where}")


def _engine_operation(desired: Desired, observed: Observed) -> Operation:
    engine = f"engine {desired.deployment}"
    recorded = next((i for i in observed.instances if i.name == observed.recorded_instance), None)
    if recorded is None or recorded.phase == "missing":
        cause = (
            f"recorded instance {observed.recorded_instance} is gone"
            if observed.recorded_instance
            else "no engine running"
        )
        return Operation(kind=OperationKind.CREATE, resource=engine, cause=cause)
    if desired.spec_hash is not None and recorded.spec_hash == desired.spec_hash:
        if recorded.phase == "running" and desired.service and recorded.attached is False:
            return Operation(
                kind=OperationKind.ATTACH,
                resource=engine,
                cause=f"{recorded.name} serves spec {desired.spec_hash} but is not {desired.service}",
            )
        if recorded.phase == "running":
            return Operation(
                kind=OperationKind.KEEP,
                resource=engine,
                cause=f"{recorded.name} serves spec {desired.spec_hash}",
            )
        why = "runs but fails its health check" if recorded.phase == "unhealthy" else "is stopped"
        return Operation(kind=OperationKind.RESTART, resource=engine, cause=f"{recorded.name} {why}")
    target = desired.spec_hash or "the new checkpoint's spec"
    note = f"; {desired.strategy_note}" if desired.strategy_note else ""
    if desired.strategy == "blue-green" and recorded.phase == "running":
        moves = f"the front {desired.front} switches" if desired.front else f"{desired.service} moves"
        return Operation(
            kind=OperationKind.BLUE_GREEN,
            resource=engine,
            cause=f"spec {recorded.spec_hash} → {target} (the new engine starts beside {recorded.name}, "
            f"which serves until the new one passes its smoke test and {moves} to it){note}; "
            "expected downtime 0 s",
        )
    if desired.expected_downtime:
        note += f"; expected downtime {desired.expected_downtime}"
    kept = (
        "stopped now, restarted if the new one fails"
        if recorded.phase == "exited"
        else "kept until the new one passes its smoke test"
    )
    return Operation(
        kind=OperationKind.REPLACE,
        resource=engine,
        cause=f"spec {recorded.spec_hash} → {target} ({recorded.name} {kept}){note}",
    )
