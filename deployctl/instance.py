"""Values that name one running engine instance: what state records and every runtime returns.

These live below the adapters so that `state`, `plan` and the executor can hold a `Handle` without
importing a runtime. Names:
- `instance_name(spec)`: what `apply` names an instance, `deployctl-<deployment>-<spec hash[:8]>`, so
  the old instance keeps its name (and stays restorable) while the new one starts beside it;
- `role_instance_name(deployment, role)`: `deployctl-<deployment>[-<role>]`, the name a runtime
  picks when its caller gives none (tests, `compose`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from deployctl.launch_spec import LaunchSpec
from deployctl.recipe.model import RuntimeKind
from deployctl.strict import StrictModel

# Extra labels the runtimes add beside `LaunchSpec.labels()`, so that `find()` can rebuild a Handle
# from what is running alone (no state file needed).
LABEL_ENDPOINT = "deployctl.endpoint"
LABEL_NAME = "deployctl.name"

WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", "", "localhost"})

InstancePhase = Literal["running", "exited", "missing"]


class Handle(StrictModel):
    """How to find one running instance again, in this run or a later one (stored in state)."""

    runtime: RuntimeKind
    id: str  # container id, or the process-group leader's pid
    name: str  # container name / instance folder name (see the module docstring)
    deployment: str
    role: str = "active"
    spec_hash: str
    endpoint: str  # base URL without /v1, e.g. http://127.0.0.1:8000
    log_path: str | None = None  # process runtime only; docker keeps logs itself


@dataclass(frozen=True)
class InstanceState:
    """What a runtime says about one instance (health is not its business: see `observe`)."""

    phase: InstancePhase
    exit_code: int | None = None

    @property
    def running(self) -> bool:
        return self.phase == "running"


def instance_name(spec: LaunchSpec) -> str:
    """A name per spec: the old instance keeps its name (and stays restorable) while the new one starts."""
    return f"deployctl-{spec.deployment}-{spec.spec_hash()[:8]}"


def role_instance_name(deployment: str, role: str = "active") -> str:
    """`deployctl-<deployment>` for the active instance, `deployctl-<deployment>-<role>` otherwise."""
    return f"deployctl-{deployment}" if role == "active" else f"deployctl-{deployment}-{role}"


def endpoint_url(spec: LaunchSpec, port: int | None = None) -> str:
    """Where deployctl itself reaches the engine: loopback when it listens on every interface.

    `port` is the one picked at launch when the spec leaves it to the runtime (`spec.port` 0)."""
    host = "127.0.0.1" if spec.host in WILDCARD_HOSTS else spec.host
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port or spec.port}"


def service_url(spec: LaunchSpec) -> str | None:
    """Where clients on `spec.service_network` reach the serving instance, if it has one."""
    if not spec.service_network:
        return None
    return f"http://{spec.deployment}:{spec.container_port} (network {spec.service_network})"
