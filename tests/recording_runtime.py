"""A runtime that keeps its instances in memory and records every call that changes something.

It implements the `Runtime` and `NetworkRuntime` protocols (deployctl/runtimes/base.py), so the
executor and `observe` drive it exactly as they drive docker or a local process; tests read `calls`
(the call sequence) and `instances` (what would be running). Failures come on cue: an instance named
in `crash_at_start` exits as soon as it is launched, `fail_start` makes `start` raise, `fail_attach`
makes `attach` raise.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from deployctl.errors import EngineStartFailed, RuntimeUnavailable
from deployctl.instance import Handle, InstancePhase, InstanceState, endpoint_url, role_instance_name
from deployctl.launch_spec import LaunchSpec
from deployctl.recipe.model import RuntimeKind, RuntimeSpec
from deployctl.runtimes.base import DEFAULT_STOP_TIMEOUT_S

Call = tuple[str, ...]


@dataclass
class Instance:
    handle: Handle
    phase: InstancePhase = "running"
    networks: set[str] = field(default_factory=set)


@dataclass
class RecordingRuntime:
    kind: RuntimeKind = RuntimeKind.DOCKER
    calls: list[Call] = field(default_factory=list)
    instances: dict[str, Instance] = field(default_factory=dict)
    crash_at_start: set[str] = field(default_factory=set)
    fail_start: set[str] = field(default_factory=set)
    fail_attach: set[str] = field(default_factory=set)
    new_id_on_start: bool = False  # the process runtime's way: a restarted instance is a new pid
    _ids: int = 0

    @classmethod
    def from_spec(cls, spec: RuntimeSpec) -> RecordingRuntime:
        return cls(kind=spec.kind)

    def launch(self, spec: LaunchSpec, *, role: str = "active", name: str | None = None) -> Handle:
        name = name or role_instance_name(spec.deployment, role)
        self.calls.append(("launch", name))
        if name in self.instances:
            raise EngineStartFailed(f"an instance named {name} exists already")
        self._ids += 1
        handle = Handle(
            runtime=self.kind, id=str(self._ids), name=name, deployment=spec.deployment, role=role,
            spec_hash=spec.spec_hash(), endpoint=endpoint_url(spec, spec.port or 40000 + self._ids),
        )  # fmt: skip
        phase: InstancePhase = "exited" if name in self.crash_at_start else "running"
        self.instances[name] = Instance(handle, phase)
        return handle

    def state(self, handle: Handle) -> InstanceState:
        instance = self.instances.get(handle.name)
        return InstanceState("missing") if instance is None else InstanceState(instance.phase)

    def logs(self, handle: Handle, *, tail: int | None = None, follow: bool = False) -> Iterator[str]:
        yield from ()

    def stop(self, handle: Handle, timeout: float = DEFAULT_STOP_TIMEOUT_S) -> None:
        self.calls.append(("stop", handle.name))
        if handle.name in self.instances:
            self.instances[handle.name].phase = "exited"

    def start(self, handle: Handle) -> Handle:
        self.calls.append(("start", handle.name))
        if handle.name in self.fail_start or handle.name not in self.instances:
            raise EngineStartFailed(f"{handle.name} did not start again")
        instance = self.instances[handle.name]
        instance.phase = "running"
        if self.new_id_on_start:
            self._ids += 1
            instance.handle = instance.handle.model_copy(update={"id": str(self._ids)})
        return instance.handle

    def remove(self, handle: Handle) -> None:
        self.calls.append(("remove", handle.name))
        self.instances.pop(handle.name, None)

    def find(self, deployment: str | None = None) -> list[Handle]:
        return [i.handle for i in self.instances.values() if deployment in (None, i.handle.deployment)]

    def attach(self, handle: Handle, network: str, alias: str) -> None:
        self.calls.append(("attach", handle.name, network))
        if handle.name in self.fail_attach:
            raise RuntimeUnavailable(f"cannot attach {handle.name} to {network}")
        self.instances[handle.name].networks.add(network)

    def detach(self, handle: Handle, network: str) -> None:
        self.calls.append(("detach", handle.name, network))
        if handle.name in self.instances:
            self.instances[handle.name].networks.discard(network)

    def attached(self, handle: Handle, network: str) -> bool:
        instance = self.instances.get(handle.name)
        return instance is not None and network in instance.networks
