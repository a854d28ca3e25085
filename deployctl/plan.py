"""The plan: a pure function from (what the recipe wants, what is observed) to the steps apply takes.

`Plan.__str__` is both `deployctl plan`'s output and the golden-test format, and `apply` executes
exactly the plan it printed: the executor makes no decisions of its own.
"""

from __future__ import annotations

from enum import Enum

from pydantic import BaseModel, ConfigDict


class OperationKind(str, Enum):
    QUANTIZE = "quantize"  # cache miss: calibrate and export
    REUSE_CHECKPOINT = "reuse-checkpoint"  # cache hit, or the base model
    CREATE = "create"  # no engine running: start one
    REPLACE = "replace"  # stop the old engine (kept), start the new one, smoke, then retire the old
    KEEP = "keep"  # the running engine already matches the recipe
    RESTART = "restart"  # recorded and matching, but not running: start it again
    REMOVE_ORPHAN = "remove-orphan"  # labelled by deployctl for this deployment but not in state


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

    recorded_spec_hash: str | None = None
    recorded_checkpoint: str | None = None
    running_instances: tuple[tuple[str, str, str], ...] = ()  # (name, spec hash, state)
    checkpoint_cached: bool = False


class Desired(BaseModel):
    model_config = ConfigDict(frozen=True)

    deployment: str
    spec_hash: str | None  # None while the checkpoint is not known yet (cache miss)
    checkpoint: str
    quantized: bool
    quantize_cost: str = ""


class Plan(BaseModel):
    model_config = ConfigDict(frozen=True)

    deployment: str
    operations: tuple[Operation, ...]

    @property
    def has_changes(self) -> bool:
        return any(op.kind not in (OperationKind.KEEP, OperationKind.REUSE_CHECKPOINT) for op in self.operations)

    @property
    def engine_operation(self) -> Operation:
        return next(op for op in self.operations if op.kind in _ENGINE_KINDS)

    def __str__(self) -> str:
        lines = [f"Plan for {self.deployment}:"]
        lines += [f"  {op}" for op in self.operations]
        lines.append("  → changes to apply" if self.has_changes else "  → no changes")
        return "\n".join(lines)


_ENGINE_KINDS = (OperationKind.CREATE, OperationKind.REPLACE, OperationKind.KEEP, OperationKind.RESTART)


def make_plan(desired: Desired, observed: Observed) -> Plan:
    """Decide; never act. Unlabelled things are invisible here, so they can never be touched."""
    ops: list[Operation] = []
    if not desired.quantized:
        ops.append(Operation(kind=OperationKind.REUSE_CHECKPOINT, resource=desired.checkpoint, cause="base model, no quantization"))
    elif observed.checkpoint_cached:
        ops.append(Operation(kind=OperationKind.REUSE_CHECKPOINT, resource=desired.checkpoint, cause="cache hit"))
    else:
        cost = f" ({desired.quantize_cost})" if desired.quantize_cost else ""
        ops.append(Operation(kind=OperationKind.QUANTIZE, resource=desired.checkpoint, cause=f"cache miss{cost}"))

    active = [inst for inst in observed.running_instances if inst[2] == "running"]
    matching = [inst for inst in active if desired.spec_hash and inst[1] == desired.spec_hash]
    engine = f"engine {desired.deployment}"
    if matching:
        ops.append(Operation(kind=OperationKind.KEEP, resource=engine, cause=f"running with spec {desired.spec_hash}"))
    elif active:
        old = active[0][1]
        cause = f"spec {old} → {desired.spec_hash or 'new checkpoint'}"
        ops.append(Operation(kind=OperationKind.REPLACE, resource=engine, cause=cause))
    elif observed.running_instances and desired.spec_hash and any(
        inst[1] == desired.spec_hash for inst in observed.running_instances
    ):
        ops.append(Operation(kind=OperationKind.RESTART, resource=engine, cause="recorded but not running"))
    else:
        ops.append(Operation(kind=OperationKind.CREATE, resource=engine, cause="no engine running"))

    keep_names = {inst[0] for inst in (matching or active[:1])}
    for name, spec_hash, state in observed.running_instances:
        if name in keep_names:
            continue
        if ops[-1].kind is OperationKind.RESTART and spec_hash == desired.spec_hash:
            continue
        ops.append(Operation(kind=OperationKind.REMOVE_ORPHAN, resource=name, cause=f"{state}, spec {spec_hash}"))
    return Plan(deployment=desired.deployment, operations=tuple(ops))
